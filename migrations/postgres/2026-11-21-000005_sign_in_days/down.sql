DROP TABLE sign_in_days;
