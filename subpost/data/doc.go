// Package data loads the data sets that epmc's built-in models are fitted
// to, and splits them into shards.
//
// Load reads CSV (with a header row), Arrow IPC (file or stream) and
// Parquet files, telling them apart by their content, and returns the
// requested numeric columns as float64. Anything a model could not use — a
// missing column, an empty file, a missing, non-numeric or non-finite value —
// is a one-line error that names the file, the row and the column.
//
// A Partition assigns the rows of a table to M shards deterministically, so
// that M sampler processes that each load the whole file agree on the
// partition without talking to each other. Fingerprint hashes the loaded
// columns together with the partition, so that a combiner can refuse draws
// computed from different data or different partitions. SplitFile writes
// the shards of a data file as files of the same format, with every column
// (strings included) and exactly the rows the partition gives.
package data
