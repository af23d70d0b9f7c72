package firehose

import "github.com/sluice-dev/sluice/sinks/firehose/convert"

// Record format conversion lives in package convert; these are its
// configuration types under the names the delivery stream's Config has
// always used.
type (
	// Conversion is DataFormatConversionConfiguration with the Glue
	// table's schema already resolved.
	Conversion = convert.Config
	// Column is one Glue column: its name and Hive type.
	Column = convert.Column
	// CatalogTable is the dataCatalogTable of a format-conversion-failed
	// envelope.
	CatalogTable = convert.CatalogTable
)

// Deserializers (InputFormatConfiguration.Deserializer).
const (
	SerDeOpenX = convert.SerDeOpenX
	SerDeHive  = convert.SerDeHive
)

// ErrTypeFormatConversion is the error output type of records that cannot
// be converted.
const ErrTypeFormatConversion = "format-conversion-failed"

const codeFormatConversion = "DataFormatConversion.MalformedData"

// conversionEnvelope is one record in the format-conversion-failed output
// (docs/semantics.md, "Firehose error output"). Field order is fixed for
// byte-identical replays.
type conversionEnvelope struct {
	AttemptsMade           int          `json:"attemptsMade"`
	ArrivalTimestamp       int64        `json:"arrivalTimestamp"`
	LastErrorCode          string       `json:"lastErrorCode"`
	LastErrorMessage       string       `json:"lastErrorMessage"`
	AttemptEndingTimestamp int64        `json:"attemptEndingTimestamp"`
	RawData                []byte       `json:"rawData"`
	DataCatalogTable       CatalogTable `json:"dataCatalogTable"`
}
