// Package sampledata generates the sample files of a small staging workflow:
// customers (CSV), orders (Parquet), products (NDJSON), a deliberately messy
// users file (CSV, with missing and duplicate emails and unparsable ages) and
// events (Parquet). The demo and the end-to-end tests use it, so the data is
// deterministic for a given seed.
package sampledata

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/redstage/redstage/codec"
)

// Config says how much to generate.
type Config struct {
	Dir       string // output directory (must exist)
	Seed      uint64
	Customers int
	Orders    int
	Products  int
	Users     int
	Events    int
}

// DefaultConfig is the size the demo uses: small enough to run in seconds.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, Seed: 42, Customers: 1000, Orders: 5000, Products: 200, Users: 500, Events: 20000}
}

// Validate reports a configuration that cannot produce files.
func (c Config) Validate() error {
	if c.Dir == "" {
		return fmt.Errorf("sampledata: no output directory")
	}
	for name, n := range map[string]int{"customers": c.Customers, "orders": c.Orders, "products": c.Products, "users": c.Users, "events": c.Events} {
		if n < 1 {
			return fmt.Errorf("sampledata: %s must be at least 1, got %d", name, n)
		}
	}
	return nil
}

// File is one generated file.
type File struct {
	Name      string // dataset name, e.g. "customers"
	Path      string
	Rows      int
	KeyColumn string // "" = no natural key (rows get automatic keys)
}

// Generate writes every sample file into cfg.Dir and lists them.
func Generate(cfg Config) ([]File, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &gen{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), mem: memory.DefaultAllocator}
	steps := []struct {
		name, file, key string
		rows            int
		build           func(n int) arrow.RecordBatch
	}{
		{"customers", "customers.csv", "customer_id", cfg.Customers, g.customers},
		{"orders", "orders.parquet", "order_id", cfg.Orders, g.orders},
		{"products", "products.ndjson", "product_id", cfg.Products, g.products},
		{"users", "users_messy.csv", "", cfg.Users, g.users},
		{"events", "events.parquet", "event_id", cfg.Events, g.events},
	}
	var files []File
	for _, s := range steps {
		path := filepath.Join(cfg.Dir, s.file)
		rec := s.build(s.rows)
		err := write(path, rec)
		rec.Release()
		if err != nil {
			return files, fmt.Errorf("writing %s: %w", path, err)
		}
		files = append(files, File{Name: s.name, Path: path, Rows: s.rows, KeyColumn: s.key})
	}
	return files, nil
}

func write(path string, rec arrow.RecordBatch) error {
	format, err := codec.FormatFromPath(path)
	if err != nil {
		return err
	}
	w, err := codec.CreateRecordWriter(path, rec.Schema(), codec.WriteOptions{Format: format})
	if err != nil {
		return err
	}
	if err := w.Write(rec); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

type gen struct {
	cfg Config
	rng *rand.Rand
	mem memory.Allocator
}

var (
	countries  = []string{"DE", "FR", "NL", "US", "GB", "JP", "BR", "IN"}
	firstNames = []string{"Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger", "Radia", "Zoë", "Jürgen"}
	lastNames  = []string{"Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Dijkstra", "Perlman", "Núñez"}
	categories = []string{"books", "garden", "kitchen", "toys", "tools"}
	statuses   = []string{"new", "paid", "shipped", "delivered", "returned"}
	eventTypes = []string{"view", "view", "view", "click", "click", "purchase"}
	epoch2024  = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
)

func (g *gen) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g *gen) name() string { return g.pick(firstNames) + " " + g.pick(lastNames) }

// days returns a date32 value within a few years after 2020.
func (g *gen) days() arrow.Date32 {
	return arrow.Date32FromTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, g.rng.IntN(1800)))
}

// micros returns a timestamp within 2024, in microseconds.
func (g *gen) micros() arrow.Timestamp {
	return arrow.Timestamp(epoch2024.Add(time.Duration(g.rng.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Millisecond).UnixMicro())
}

func (g *gen) money(max float64) float64 { return float64(g.rng.IntN(int(max*100))) / 100 }

func utc() arrow.DataType { return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"} }

func (g *gen) customers(n int) arrow.RecordBatch {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "email", Type: arrow.BinaryTypes.String},
		{Name: "country", Type: arrow.BinaryTypes.String},
		{Name: "signup_date", Type: arrow.FixedWidthTypes.Date32},
		{Name: "lifetime_value", Type: arrow.PrimitiveTypes.Float64},
		{Name: "is_active", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	b := array.NewRecordBuilder(g.mem, s)
	defer b.Release()
	for i := 0; i < n; i++ {
		id := int64(1000 + i)
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(g.name())
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("customer%d@example.com", id))
		b.Field(3).(*array.StringBuilder).Append(g.pick(countries))
		b.Field(4).(*array.Date32Builder).Append(g.days())
		b.Field(5).(*array.Float64Builder).Append(g.money(5000))
		b.Field(6).(*array.BooleanBuilder).Append(g.rng.IntN(5) != 0)
	}
	return b.NewRecordBatch()
}

func (g *gen) orders(n int) arrow.RecordBatch {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "order_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "customer_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "product_id", Type: arrow.BinaryTypes.String},
		{Name: "quantity", Type: arrow.PrimitiveTypes.Int32},
		{Name: "unit_price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "ordered_at", Type: utc()},
		{Name: "status", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(g.mem, s)
	defer b.Release()
	for i := 0; i < n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(500000 + i))
		b.Field(1).(*array.Int64Builder).Append(int64(1000 + g.rng.IntN(max(g.cfg.Customers, 1))))
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("P%04d", g.rng.IntN(max(g.cfg.Products, 1))))
		b.Field(3).(*array.Int32Builder).Append(int32(1 + g.rng.IntN(5)))
		b.Field(4).(*array.Float64Builder).Append(g.money(200))
		b.Field(5).(*array.TimestampBuilder).Append(g.micros())
		b.Field(6).(*array.StringBuilder).Append(g.pick(statuses))
	}
	return b.NewRecordBatch()
}

func (g *gen) products(n int) arrow.RecordBatch {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "product_id", Type: arrow.BinaryTypes.String},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "category", Type: arrow.BinaryTypes.String},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "in_stock", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	b := array.NewRecordBuilder(g.mem, s)
	defer b.Release()
	for i := 0; i < n; i++ {
		cat := g.pick(categories)
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("P%04d", i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("%s item %d", cat, i))
		b.Field(2).(*array.StringBuilder).Append(cat)
		b.Field(3).(*array.Float64Builder).Append(g.money(200))
		b.Field(4).(*array.BooleanBuilder).Append(g.rng.IntN(4) != 0)
	}
	return b.NewRecordBatch()
}

// users is the messy file: about 10% of emails are missing and 10% repeat an
// earlier one, about 5% of ages are words or blank, and some signup dates are
// not dates. All columns are strings, as they would be in a hand-made export.
func (g *gen) users(n int) arrow.RecordBatch {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.BinaryTypes.String},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "age", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "signup", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "score", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(g.mem, s)
	defer b.Release()
	var emails []string
	for i := 0; i < n; i++ {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("u%05d", i))
		b.Field(1).(*array.StringBuilder).Append(g.name())
		email := b.Field(2).(*array.StringBuilder)
		switch r := g.rng.IntN(10); {
		case r == 0:
			email.AppendNull()
		case r == 1 && len(emails) > 0:
			email.Append(emails[g.rng.IntN(len(emails))])
		default:
			e := fmt.Sprintf("user%d@example.org", i)
			emails = append(emails, e)
			email.Append(e)
		}
		age := b.Field(3).(*array.StringBuilder)
		switch r := g.rng.IntN(40); {
		case r == 0:
			age.Append("unknown")
		case r == 1:
			age.AppendNull()
		default:
			age.Append(fmt.Sprint(18 + g.rng.IntN(60)))
		}
		signup := b.Field(4).(*array.StringBuilder)
		if g.rng.IntN(25) == 0 {
			signup.Append("n/a")
		} else {
			signup.Append(arrow.Date32(g.days()).FormattedString())
		}
		b.Field(5).(*array.StringBuilder).Append(fmt.Sprintf("%.1f", float64(g.rng.IntN(1000))/10))
	}
	return b.NewRecordBatch()
}

func (g *gen) events(n int) arrow.RecordBatch {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "event_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "user_id", Type: arrow.BinaryTypes.String},
		{Name: "event_type", Type: arrow.BinaryTypes.String},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ts", Type: utc()},
	}, nil)
	b := array.NewRecordBuilder(g.mem, s)
	defer b.Release()
	for i := 0; i < n; i++ {
		et := g.pick(eventTypes)
		b.Field(0).(*array.Int64Builder).Append(int64(i + 1))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("u%05d", g.rng.IntN(max(g.cfg.Users, 1))))
		b.Field(2).(*array.StringBuilder).Append(et)
		if et == "purchase" {
			b.Field(3).(*array.Float64Builder).Append(g.money(300))
		} else {
			b.Field(3).(*array.Float64Builder).AppendNull()
		}
		b.Field(4).(*array.TimestampBuilder).Append(g.micros())
	}
	return b.NewRecordBatch()
}
