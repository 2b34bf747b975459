"""Reads an iCalendar feed from stdin with Python's icalendar (an independent
parser) and prints what the Rust tests check, as JSON: each VEVENT's fields
and its occurrences expanded with dateutil's rrulestr from the parsed DTSTART,
less its EXDATEs (local and UTC), and the VTIMEZONE's observances."""

import json
import sys
from datetime import timezone

import icalendar
from dateutil.rrule import rruleset, rrulestr


def ical(value):
    """A value as iCalendar text (to_ical gives bytes or str, by version and type)."""
    out = value.to_ical()
    return out.decode() if isinstance(out, bytes) else out


def text(component, name):
    value = component.get(name)
    return None if value is None else str(value)


def main():
    calendar = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
    events = []
    for event in calendar.walk("VEVENT"):
        start = event.decoded("DTSTART")
        end = event.decoded("DTEND")
        rule = event.get("RRULE")
        rule_text = ical(rule) if rule is not None else None
        exdates = []
        skipped = event.get("EXDATE")
        for group in skipped if isinstance(skipped, list) else [skipped] if skipped else []:
            exdates.extend(d.dt for d in group.dts)
        if rule_text:
            rules = rruleset()
            rules.rrule(rrulestr(rule_text, dtstart=start))
            for day in exdates:
                rules.exdate(day)
            occurrences = list(rules)
        else:
            occurrences = [start]
        events.append({
            "uid": text(event, "UID"),
            "summary": text(event, "SUMMARY"),
            "location": text(event, "LOCATION"),
            "description": text(event, "DESCRIPTION"),
            "dtstamp": event.decoded("DTSTAMP").astimezone(timezone.utc).isoformat(),
            "last_modified": event.decoded("LAST-MODIFIED").astimezone(timezone.utc).isoformat()
            if event.get("LAST-MODIFIED") is not None else None,
            "tzid": event["DTSTART"].params.get("TZID"),
            "dtstart": start.isoformat(),
            "dtend": end.isoformat(),
            "byday": [str(d) for d in rule.get("BYDAY", [])] if rule is not None else [],
            "freq": [str(f) for f in rule.get("FREQ", [])] if rule is not None else [],
            "until": [u.astimezone(timezone.utc).isoformat() for u in rule.get("UNTIL", [])]
            if rule is not None else [],
            "exdates": [d.isoformat() for d in exdates],
            "local": [o.isoformat() for o in occurrences],
            "utc": [o.astimezone(timezone.utc).isoformat() for o in occurrences],
        })
    zones = []
    for zone in calendar.walk("VTIMEZONE"):
        observances = []
        for sub in zone.subcomponents:
            observances.append({
                "kind": sub.name,
                "dtstart": sub.decoded("DTSTART").isoformat(),
                "from": ical(sub["TZOFFSETFROM"]),
                "to": ical(sub["TZOFFSETTO"]),
            })
        zones.append({"tzid": text(zone, "TZID"), "observances": observances})
    print(json.dumps({
        "name": text(calendar, "X-WR-CALNAME"),
        "description": text(calendar, "X-WR-CALDESC"),
        "events": events,
        "zones": zones,
    }))


main()
