package firehose

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
)

// This file holds the whole-object compressions of CompressionFormat
// (docs/semantics.md, "Firehose compression"). Each is a streaming writer with
// bounded memory (one block at most) and deterministic output for a given
// sequence of writes, so a replayed flush rewrites byte-identical objects.

// compression is one CompressionFormat: its default extension, its
// Content-Encoding and a constructor for its writer.
type compression struct {
	ext, encoding string
	// wrap returns a writer whose Close finishes the compressed stream
	// (without closing w). name is the object's base name, for formats
	// that store one (ZIP).
	wrap func(w io.Writer, name string) (io.WriteCloser, error)
}

// compressions by CompressionFormat. HADOOP_SNAPPY's extension follows
// what was observed on AWS (.snappy), not the documentation's .hsnappy
// (docs/semantics.md, "Firehose S3 object names"); FileExtension overrides
// either.
var compressions = map[string]compression{
	CompressionNone:         {"", "", func(w io.Writer, _ string) (io.WriteCloser, error) { return nopCloser{w}, nil }},
	CompressionGZIP:         {".gz", "gzip", newGzip},
	CompressionZIP:          {".zip", "zip", newZip},
	CompressionSnappy:       {".snappy", "snappy-java", func(w io.Writer, _ string) (io.WriteCloser, error) { return newXerial(w), nil }},
	CompressionHadoopSnappy: {".snappy", "hadoop-snappy", func(w io.Writer, _ string) (io.WriteCloser, error) { return newHadoopSnappy(w), nil }},
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// newGzip writes a gzip member without name or mtime, so the bytes depend
// on the content alone. Writers are pooled: each holds about a megabyte of
// compressor state, and a flush of many small partitions would otherwise
// allocate one per object. Reset leaves no trace of the previous object,
// so the bytes are the same as from a new writer.
func newGzip(w io.Writer, _ string) (io.WriteCloser, error) {
	zw := gzipPool.Get().(*gzip.Writer)
	zw.Reset(w)
	return &pooledGzip{zw}, nil
}

var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

type pooledGzip struct{ zw *gzip.Writer }

func (p *pooledGzip) Write(b []byte) (int, error) { return p.zw.Write(b) }

// Close finishes the member and returns the writer to the pool; a writer
// abandoned after an error is left to the collector instead.
func (p *pooledGzip) Close() error {
	if p.zw == nil {
		return nil
	}
	err := p.zw.Close()
	p.zw.Reset(io.Discard) // drop the reference to the destination
	gzipPool.Put(p.zw)
	p.zw = nil
	return err
}

// zipEpoch is the modification time of every ZIP entry: a fixed instant
// keeps objects byte-identical on replay.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// zipWriter is an archive with a single deflated entry named after the
// object (without its extension), as Firehose's ZIP objects hold.
type zipWriter struct {
	zw *zip.Writer
	io.Writer
}

func newZip(w io.Writer, name string) (io.WriteCloser, error) {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.DefaultCompression)
	})
	e, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipEpoch})
	if err != nil {
		return nil, fmt.Errorf("start zip entry: %w", err)
	}
	return &zipWriter{zw: zw, Writer: e}, nil
}

func (z *zipWriter) Close() error { return z.zw.Close() }

// blockWriter collects up to size bytes and hands each full block (and the
// last, partial one) to emit.
type blockWriter struct {
	buf  []byte
	size int
	emit func(block []byte) error
	err  error
}

func (b *blockWriter) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), b.size-len(b.buf))
		b.buf = append(b.buf, p[:k]...)
		p = p[k:]
		if len(b.buf) == b.size {
			if b.err = b.emit(b.buf); b.err != nil {
				return n - len(p), b.err
			}
			b.buf = b.buf[:0]
		}
	}
	return n, nil
}

func (b *blockWriter) Close() error {
	if b.err == nil && len(b.buf) > 0 {
		b.err = b.emit(b.buf)
		b.buf = b.buf[:0]
	}
	return b.err
}

// xerialHeader starts a snappy-java stream: magic 0x82 "SNAPPY" 0x00, then
// version 1 and minimum compatible version 1 as big-endian int32s.
var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}

// xerialBlock is snappy-java's default block size.
const xerialBlock = 32 << 10

// newXerial writes snappy-java's stream framing (what Firehose's "Snappy"
// objects use): the header, then per block of up to 32 KiB a big-endian
// int32 compressed length and a raw snappy block.
func newXerial(w io.Writer) io.WriteCloser {
	var enc []byte
	header := false
	bw := &blockWriter{buf: make([]byte, 0, xerialBlock), size: xerialBlock}
	bw.emit = func(block []byte) error {
		if !header {
			header = true
			if _, err := w.Write(xerialHeader); err != nil {
				return err
			}
		}
		enc = snappy.Encode(enc[:cap(enc)], block)
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(enc)))
		if _, err := w.Write(n[:]); err != nil {
			return err
		}
		_, err := w.Write(enc)
		return err
	}
	return &xerialWriter{bw: bw, w: w, header: &header}
}

type xerialWriter struct {
	bw     *blockWriter
	w      io.Writer
	header *bool
}

func (x *xerialWriter) Write(p []byte) (int, error) { return x.bw.Write(p) }

// Close flushes the last block; an empty stream is the bare header, as
// snappy-java writes it.
func (x *xerialWriter) Close() error {
	if err := x.bw.Close(); err != nil {
		return err
	}
	if !*x.header {
		*x.header = true
		_, err := x.w.Write(xerialHeader)
		return err
	}
	return nil
}

// hadoopBlock is Hadoop's io.compression.codec.snappy.buffersize default.
const hadoopBlock = 256 << 10

// newHadoopSnappy writes Hadoop's BlockCompressorStream framing (what
// SnappyCodec produces and Hadoop, Spark and Athena read): per block of up
// to 256 KiB a big-endian int32 uncompressed length, then a big-endian
// int32 compressed length and the raw snappy block.
func newHadoopSnappy(w io.Writer) io.WriteCloser {
	var enc []byte
	bw := &blockWriter{buf: make([]byte, 0, hadoopBlock), size: hadoopBlock}
	bw.emit = func(block []byte) error {
		enc = snappy.Encode(enc[:cap(enc)], block)
		var n [8]byte
		binary.BigEndian.PutUint32(n[:4], uint32(len(block)))
		binary.BigEndian.PutUint32(n[4:], uint32(len(enc)))
		if _, err := w.Write(n[:]); err != nil {
			return err
		}
		_, err := w.Write(enc)
		return err
	}
	return bw
}
