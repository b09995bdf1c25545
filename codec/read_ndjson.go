package codec

func newNDJSONReader(path string, src *streamSource, opts ReadOptions) (RecordReader, error) {
	return nil, fileErr(path, ErrUnknownFormat)
}
