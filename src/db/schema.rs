//! The one schema both backends share. Only types Diesel's `MultiConnection`
//! supports appear here: Text ids and enums, Timestamp (UTC), Bool, Integer, BigInt.
//! Kept by hand in step with `migrations/{sqlite,postgres}`; a test compares them.

/// Every table, in an order where each table comes after the ones it references.
pub const TABLES: &[&str] = &[
    "users",
    "magic_links",
    "sessions",
    "classes",
    "class_meetings",
    "user_classes",
    "friendships",
    "class_messages",
    "message_flags",
    "chat_events",
    "chat_class_reads",
    "chat_thread_reads",
    "message_revisions",
    "message_votes",
    "chat_pseudonyms",
    "thread_follows",
    "class_mutes",
    "notification_settings",
    "notification_schedules",
    "notification_digests",
    "notifications",
    "contact_imports",
    "audit_log",
    "reveal_requests",
    "email_outbox",
    "sis_sync_runs",
    "rate_limit_hits",
    "sign_in_days",
    "sis_sync_locks",
    "term_dates",
    "calendar_feeds",
];

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        computing_id -> Text,
        phone_hash -> Nullable<Text>,
        email_verified -> Bool,
        phone_verified -> Bool,
        role -> Text,
        suspended_until -> Nullable<Timestamp>,
        suspension_reason -> Nullable<Text>,
        last_login_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        display_name -> Nullable<Text>,
        hide_classes -> Bool,
        name_key -> Nullable<Text>,
        display_name_locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    magic_links (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        code_hash -> Text,
        code_attempts -> Integer,
        expires_at -> Timestamp,
        used -> Bool,
        created_at -> Timestamp,
        requester_hash -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        user_agent -> Nullable<Text>,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
    }
}

diesel::table! {
    classes (id) {
        id -> Text,
        subject -> Text,
        catalog_number -> Text,
        term -> Text,
        title -> Nullable<Text>,
        description -> Nullable<Text>,
        sis_class_number -> Nullable<Text>,
        instructor -> Nullable<Text>,
        component -> Nullable<Text>,
        class_section -> Nullable<Text>,
        class_capacity -> Nullable<Integer>,
        enrollment_available -> Nullable<Integer>,
        days -> Nullable<Text>,
        start_time -> Nullable<Text>,
        end_time -> Nullable<Text>,
        location -> Nullable<Text>,
        active -> Bool,
        last_synced_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    class_meetings (id) {
        id -> Text,
        class_id -> Text,
        position -> Integer,
        days -> Nullable<Text>,
        start_time -> Nullable<Text>,
        end_time -> Nullable<Text>,
        location -> Nullable<Text>,
        instructor -> Nullable<Text>,
        first_day -> Nullable<Date>,
        last_day -> Nullable<Date>,
    }
}

diesel::table! {
    user_classes (user_id, class_id) {
        user_id -> Text,
        class_id -> Text,
        enrolled_at -> Timestamp,
    }
}

diesel::table! {
    friendships (id) {
        id -> Text,
        user_id_1 -> Text,
        user_id_2 -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        blocked_back -> Bool,
        asked_by -> Nullable<Text>,
        asked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    class_messages (id) {
        id -> Text,
        class_id -> Text,
        user_id -> Nullable<Text>,
        anonymous_identifier -> Text,
        content -> Text,
        parent_message_id -> Nullable<Text>,
        flagged_count -> Integer,
        hidden -> Bool,
        deleted -> Bool,
        edited_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        thread_root_id -> Nullable<Text>,
        last_activity_at -> Timestamp,
        vote_count -> Integer,
        answer_id -> Nullable<Text>,
        pinned_at -> Nullable<Timestamp>,
        held -> Bool,
        held_reason -> Nullable<Text>,
        held_names -> Nullable<Text>,
    }
}

diesel::table! {
    chat_events (seq) {
        seq -> BigInt,
        class_id -> Text,
        thread_id -> Text,
        message_id -> Text,
        kind -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    chat_class_reads (user_id, class_id) {
        user_id -> Text,
        class_id -> Text,
        read_through -> Timestamp,
    }
}

diesel::table! {
    chat_thread_reads (user_id, thread_id) {
        user_id -> Text,
        thread_id -> Text,
        class_id -> Text,
        read_through -> Timestamp,
    }
}

diesel::table! {
    message_flags (message_id, user_id) {
        message_id -> Text,
        user_id -> Text,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
        counted -> Bool,
        cleared_at -> Nullable<Timestamp>,
        reported_again_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    message_votes (message_id, user_id) {
        message_id -> Text,
        user_id -> Text,
        class_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    chat_pseudonyms (class_id, name) {
        class_id -> Text,
        name -> Text,
        user_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    message_revisions (id) {
        id -> Text,
        message_id -> Text,
        content -> Text,
        written_at -> Timestamp,
        ended_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    contact_imports (id) {
        id -> Text,
        user_id -> Text,
        phone_hash_list -> Text,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        target_type -> Text,
        target_id -> Text,
        reason -> Nullable<Text>,
        details -> Nullable<Text>,
        created_at -> Timestamp,
        class_id -> Nullable<Text>,
        category -> Nullable<Text>,
    }
}

diesel::table! {
    reveal_requests (id) {
        id -> Text,
        message_id -> Text,
        requester_id -> Nullable<Text>,
        reason -> Text,
        urgent -> Bool,
        status -> Text,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        decision_note -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Text,
        to_address -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        list_unsubscribe -> Nullable<Text>,
        notification_id -> Nullable<Text>,
    }
}

diesel::table! {
    sis_sync_runs (id) {
        id -> Text,
        term -> Text,
        subjects -> Text,
        status -> Text,
        sections_added -> Integer,
        sections_changed -> Integer,
        sections_unchanged -> Integer,
        sections_deactivated -> Integer,
        pages_fetched -> Integer,
        retries -> Integer,
        error -> Nullable<Text>,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        sections_missing -> Integer,
    }
}

diesel::table! {
    rate_limit_hits (id) {
        id -> Text,
        bucket -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sign_in_days (day) {
        day -> Text,
        sign_ins -> Integer,
    }
}

diesel::table! {
    sis_sync_locks (term) {
        term -> Text,
        run_id -> Text,
        holder -> Text,
        claimed_at -> Timestamp,
        lease_until -> Timestamp,
    }
}

diesel::table! {
    term_dates (term) {
        term -> Text,
        first_day -> Date,
        last_day -> Date,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    calendar_feeds (user_id) {
        user_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        last_fetched_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    thread_follows (user_id, thread_id) {
        user_id -> Text,
        thread_id -> Text,
        class_id -> Text,
        following -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    class_mutes (user_id, class_id) {
        user_id -> Text,
        class_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_settings (user_id, topic) {
        user_id -> Text,
        topic -> Text,
        delivery -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notification_schedules (user_id) {
        user_id -> Text,
        digest_hour -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notification_digests (id) {
        id -> Text,
        user_id -> Text,
        campus_date -> Text,
        items -> Integer,
        outbox_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        class_id -> Nullable<Text>,
        thread_id -> Nullable<Text>,
        message_id -> Nullable<Text>,
        other_user_id -> Nullable<Text>,
        detail -> Nullable<Text>,
        delivery -> Text,
        emailed_at -> Nullable<Timestamp>,
        digest_id -> Nullable<Text>,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(magic_links -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(class_meetings -> classes (class_id));
diesel::joinable!(user_classes -> users (user_id));
diesel::joinable!(user_classes -> classes (class_id));
diesel::joinable!(class_messages -> classes (class_id));
diesel::joinable!(class_messages -> users (user_id));
diesel::joinable!(message_flags -> class_messages (message_id));
diesel::joinable!(chat_events -> classes (class_id));
diesel::joinable!(chat_class_reads -> classes (class_id));
diesel::joinable!(chat_thread_reads -> class_messages (thread_id));
diesel::joinable!(message_flags -> users (user_id));
diesel::joinable!(message_revisions -> class_messages (message_id));
diesel::joinable!(message_votes -> class_messages (message_id));
diesel::joinable!(message_votes -> users (user_id));
diesel::joinable!(chat_pseudonyms -> classes (class_id));
diesel::joinable!(chat_pseudonyms -> users (user_id));
diesel::joinable!(contact_imports -> users (user_id));
diesel::joinable!(audit_log -> users (actor_id));
diesel::joinable!(reveal_requests -> class_messages (message_id));
diesel::joinable!(thread_follows -> class_messages (thread_id));
diesel::joinable!(class_mutes -> classes (class_id));
diesel::joinable!(notifications -> classes (class_id));
diesel::joinable!(notifications -> notification_digests (digest_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    magic_links,
    sessions,
    classes,
    class_meetings,
    user_classes,
    friendships,
    class_messages,
    message_flags,
    chat_events,
    chat_class_reads,
    chat_thread_reads,
    message_revisions,
    message_votes,
    chat_pseudonyms,
    thread_follows,
    class_mutes,
    notification_settings,
    notification_schedules,
    notification_digests,
    notifications,
    contact_imports,
    audit_log,
    reveal_requests,
    email_outbox,
    sis_sync_runs,
    rate_limit_hits,
    sign_in_days,
    sis_sync_locks,
    term_dates,
    calendar_feeds,
);
