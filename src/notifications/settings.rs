//! A student's email choices per topic and their digest hour.
