//! Unit tests of the whole engine without root: archives built in memory, extracted into temp
//! directories (owners left to the caller), exported and read back.
