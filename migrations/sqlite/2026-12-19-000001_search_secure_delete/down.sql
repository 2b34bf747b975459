INSERT INTO chat_search (chat_search, rank) VALUES ('secure-delete', 0);
