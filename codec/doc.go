// Package codec converts between Redis hash field strings and typed Arrow
// columns: schemas and their text/JSON forms, value parsing and formatting,
// record building (scan side), row encoding (write side), schema inference
// with confidence, file formats and IPC framing.
package codec
