DROP TRIGGER chat_search_docs_removed;
DROP TABLE chat_search;
DROP INDEX idx_chat_search_docs_class;
DROP TABLE chat_search_docs;
