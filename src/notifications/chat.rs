//! What chat activity notifies: following threads (the ones a student starts or replies to, and any they follow by hand), muting classes, and the notices of a reply.
