package template

import "strings"

// This file reads the record format conversion of a delivery stream
// (DataFormatConversionConfiguration) and the AWS::Glue::Table it names,
// so the plan carries the Parquet schema itself: on AWS, Firehose reads the
// table from the Glue Data Catalog; Sluice reads it from the template.

// FormatConversion is DataFormatConversionConfiguration with the schema
// resolved from the template's AWS::Glue::Table.
type FormatConversion struct {
	// DatabaseName and TableName are SchemaConfiguration's; Region,
	// CatalogID and VersionID are copied for error envelopes.
	DatabaseName string `json:"databaseName"`
	TableName    string `json:"tableName"`
	Region       string `json:"region,omitempty"`
	CatalogID    string `json:"catalogId,omitempty"`
	VersionID    string `json:"versionId,omitempty"`
	// Columns are the table's StorageDescriptor.Columns, in order.
	Columns []GlueColumn `json:"columns"`
	// Deserializer is OpenXJsonSerDe (default) or HiveJsonSerDe.
	Deserializer string `json:"deserializer"`
	// CaseInsensitive, ConvertDotsInJSONKeysToUnderscores and
	// ColumnToJSONKeyMappings are the OpenX SerDe options (defaults true,
	// false, none).
	CaseInsensitive                    bool              `json:"caseInsensitive"`
	ConvertDotsInJSONKeysToUnderscores bool              `json:"convertDotsInJsonKeysToUnderscores,omitempty"`
	ColumnToJSONKeyMappings            map[string]string `json:"columnToJsonKeyMappings,omitempty"`
	// TimestampFormats is the Hive SerDe option.
	TimestampFormats []string `json:"timestampFormats,omitempty"`
	// Compression is ParquetSerDe.Compression: SNAPPY (default), GZIP or
	// UNCOMPRESSED.
	Compression string `json:"compression"`
	// PageSizeBytes is ParquetSerDe.PageSizeBytes (0: the default 1 MiB).
	PageSizeBytes int `json:"pageSizeBytes,omitempty"`
}

// GlueColumn is one column of a Glue table: name and Hive type.
type GlueColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// formatConversion reads an enabled DataFormatConversionConfiguration.
func (p *parser) formatConversion(conv *object) *FormatConversion {
	fc := &FormatConversion{CaseInsensitive: true, Deserializer: "OpenXJsonSerDe", Compression: "SNAPPY"}
	sc := conv.child("SchemaConfiguration", []string{"CatalogId", "DatabaseName", "Region", "RoleARN", "TableName", "VersionId"})
	if !sc.present() {
		conv.missing("SchemaConfiguration")
	}
	db, _, dbOK := sc.str("DatabaseName", true)
	table, tat, tOK := sc.str("TableName", true)
	fc.DatabaseName, fc.TableName = db, table
	fc.Region, _, _ = sc.str("Region", false)
	fc.CatalogID, _, _ = sc.str("CatalogId", false)
	fc.VersionID, _, _ = sc.str("VersionId", false)
	if sc.has("RoleARN") {
		p.role(sc, "RoleARN")
	}
	if dbOK && tOK {
		cols, ok := p.glueColumns(db, table)
		if !ok {
			sc.errorf(tat, "TableName", "no AWS::Glue::Table named %s in database %s in this template; Sluice reads the schema from the template", quote(table), quote(db))
		}
		fc.Columns = cols
	}

	in := conv.child("InputFormatConfiguration", []string{"Deserializer"})
	des := in.child("Deserializer", []string{"OpenXJsonSerDe", "HiveJsonSerDe"})
	openx := des.child("OpenXJsonSerDe", []string{"CaseInsensitive", "ColumnToJsonKeyMappings", "ConvertDotsInJsonKeysToUnderscores"})
	hive := des.child("HiveJsonSerDe", []string{"TimestampFormats"})
	switch {
	case openx.present() && hive.present():
		p.errorf(des.get("HiveJsonSerDe").keyPos, "%s: give exactly one of OpenXJsonSerDe and HiveJsonSerDe", des.path)
	case hive.present():
		fc.Deserializer = "HiveJsonSerDe"
		for _, v := range hive.list("TimestampFormats") {
			if rv := p.resolve(v); rv != nil && rv.kind == kScalar {
				fc.TimestampFormats = append(fc.TimestampFormats, rv.str)
			}
		}
	default:
		fc.CaseInsensitive = openx.boolean("CaseInsensitive", true)
		fc.ConvertDotsInJSONKeysToUnderscores = openx.boolean("ConvertDotsInJsonKeysToUnderscores", false)
		if m := openx.val("ColumnToJsonKeyMappings"); m != nil && m.kind == kMap {
			fc.ColumnToJSONKeyMappings = map[string]string{}
			for _, e := range m.entries {
				if rv := p.resolve(e.val); rv != nil && rv.kind == kScalar {
					fc.ColumnToJSONKeyMappings[e.key] = rv.str
				}
			}
		}
	}

	out := conv.child("OutputFormatConfiguration", []string{"Serializer"})
	ser := out.child("Serializer", []string{"ParquetSerDe", "OrcSerDe"})
	if e := ser.get("OrcSerDe"); e != nil {
		p.errorf(e.keyPos, "%s.OrcSerDe: ORC output is not supported by Sluice; use ParquetSerDe", ser.path)
	}
	pq := ser.child("ParquetSerDe", []string{"BlockSizeBytes", "Compression", "EnableDictionaryCompression",
		"MaxPaddingBytes", "PageSizeBytes", "WriterVersion"})
	fc.Compression = pq.enum("Compression", false, "SNAPPY", "SNAPPY", "GZIP", "UNCOMPRESSED")
	if pq.has("PageSizeBytes") {
		fc.PageSizeBytes = pq.integer("PageSizeBytes", 1<<20, 64<<10, 1<<30)
	}
	pq.integer("BlockSizeBytes", 256<<20, 64<<20, 1<<31-1)
	pq.integer("MaxPaddingBytes", 0, 0, 1<<31-1)
	pq.boolean("EnableDictionaryCompression", true)
	pq.enum("WriterVersion", false, "V1", "V1", "V2")
	return fc
}

// glueColumns finds the AWS::Glue::Table named table in database db and
// returns its columns.
func (p *parser) glueColumns(db, table string) ([]GlueColumn, bool) {
	for _, id := range p.resOrder {
		r := p.res[id]
		if r.typ != typeGlueTable || !r.enabled {
			continue
		}
		name, ok := p.physicalName(r)
		if !ok || !strings.EqualFold(name, table) {
			continue
		}
		props := p.object(r.props, r.propsAt, r.path(), nil)
		if d, _, _ := props.str("DatabaseName", false); !strings.EqualFold(d, db) {
			continue
		}
		sd := props.child("TableInput", nil).child("StorageDescriptor", nil)
		var cols []GlueColumn
		for _, v := range sd.list("Columns") {
			c := p.object(v, v.pos, sd.path+".Columns", []string{"Name", "Type", "Comment", "Parameters"})
			n, _, nok := c.str("Name", true)
			t, _, tok := c.str("Type", true)
			if nok && tok {
				cols = append(cols, GlueColumn{Name: n, Type: t})
			}
		}
		if len(cols) == 0 {
			p.errorf(r.keyPos, "%s.TableInput.StorageDescriptor.Columns: a table used for format conversion needs columns", r.path())
		}
		return cols, true
	}
	return nil, false
}
