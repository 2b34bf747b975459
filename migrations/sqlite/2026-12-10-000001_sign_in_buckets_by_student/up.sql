-- Sign-in emails are now counted per computing ID (`login-email:mst3k`), not
-- per address. The address-named buckets would only be pruned by cleanup a
-- day from now; dropping them now lets erasure find every bucket that names a
-- student, at the cost of at most one hour's count.
DELETE FROM rate_limit_hits WHERE bucket LIKE 'login-email:%@%';
