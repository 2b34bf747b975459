DROP TABLE calendar_feeds;
DROP TABLE term_dates;
