package auxdp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/epmc/epmc"
	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/internal/atomicfile"
)

// File kinds recorded under epmc.kind.
const (
	KindTrace       chains.Kind = "dpmm-trace"
	KindAssignments chains.Kind = "dpmm-assignments"
)

// Trace column names besides the per-processor ones.
const (
	ColK              = "K"
	ColAlpha          = "alpha"    // DP concentration
	ColTheta          = "theta"    // PY strength
	ColDiscount       = "discount" // PY discount
	ColLargest        = "largest"
	ColMaxShare       = "max_share__"
	ColMovesProposed  = "moves_proposed__"
	ColMovesAccepted  = "moves_accepted__"
	ColPointsMoved    = "points_moved__"
	ColSplitsProposed = "splits_proposed__"
	ColSplitsAccepted = "splits_accepted__"
	ColMergesProposed = "merges_proposed__"
	ColMergesAccepted = "merges_accepted__"
	ColSeconds        = "seconds__"
	ColLabels         = "z"
)

// ProcPointsCol and ProcClustersCol name the per-processor trace columns
// (j is 1-based).
func ProcPointsCol(j int) string   { return "proc_points_" + strconv.Itoa(j) + "__" }
func ProcClustersCol(j int) string { return "proc_clusters_" + strconv.Itoa(j) + "__" }

// AssignmentsPath is the path of the assignment-draws file that goes with
// the trace file at path: "run.arrow" → "run.assign.arrow".
func AssignmentsPath(path string) string {
	ext := filepath.Ext(path)
	if ext == "" || ext == filepath.Base(path) {
		return path + ".assign.arrow"
	}
	return strings.TrimSuffix(path, ext) + ".assign" + ext
}

// WriteOptions configures Write.
type WriteOptions struct {
	// DataFingerprint identifies the data (for example
	// subpost/data.Fingerprint); recorded in both files' metadata.
	DataFingerprint string
	// Compression of the trace file's record batches.
	Compression chains.Compression
}

// TraceDraws returns the per-iteration trace as draws of one chain, the
// first Config.Burn iterations marked as warmup: parameters K, alpha (DP)
// or theta and discount (PY), largest; sampler statistics lp__ (the log
// joint), max_share__, moves_proposed__, moves_accepted__, points_moved__,
// splits_/merges_proposed__/accepted__, seconds__ and, for every
// processor j, proc_points_j__ and proc_clusters_j__.
func (r *Result) TraceDraws() *chains.Draws {
	names := []string{ColK}
	if r.Config.Process == PY {
		names = append(names, ColTheta, ColDiscount)
	} else {
		names = append(names, ColAlpha)
	}
	names = append(names, ColLargest, chains.LP, ColMaxShare, ColMovesProposed, ColMovesAccepted, ColPointsMoved,
		ColSplitsProposed, ColSplitsAccepted, ColMergesProposed, ColMergesAccepted, ColSeconds)
	for j := 1; j <= r.Config.Procs; j++ {
		names = append(names, ProcPointsCol(j))
	}
	for j := 1; j <= r.Config.Procs; j++ {
		names = append(names, ProcClustersCol(j))
	}
	d := chains.New(names, 1, len(r.Trace))
	d.Warmup = min(r.Config.Burn, len(r.Trace))
	for t, st := range r.Trace {
		row := []float64{float64(st.K), st.Alpha}
		if r.Config.Process == PY {
			row = append(row, st.Discount)
		}
		row = append(row, float64(st.Largest), st.LogJoint, st.MaxShare,
			float64(st.MovesProposed), float64(st.MovesAccepted), float64(st.PointsMoved),
			float64(st.SplitsProposed), float64(st.SplitsAccepted), float64(st.MergesProposed), float64(st.MergesAccepted),
			st.Seconds)
		for _, n := range st.ProcPoints {
			row = append(row, float64(n))
		}
		for _, n := range st.ProcClusters {
			row = append(row, float64(n))
		}
		for v, x := range row {
			d.Values[0][v][t] = x
		}
	}
	return d
}

// modelJSON and samplerJSON are the model and sampler settings recorded in
// both files' metadata.
func (r *Result) modelJSON() json.RawMessage {
	m := map[string]any{
		"model":      "dpmm",
		"process":    r.Config.Process.String(),
		"likelihood": r.Config.Likelihood.Name(),
		"base":       r.fam.hyper(),
		"n":          r.N,
		"dim":        r.Dim,
	}
	if r.Config.Names != nil {
		m["columns"] = r.Config.Names
	}
	if r.Config.Alpha > 0 {
		m["alpha_fixed"] = r.Config.Alpha
	} else {
		m["alpha_prior"] = map[string]float64{"shape": r.Config.AlphaPrior.Shape, "rate": r.Config.AlphaPrior.Rate}
	}
	if r.Config.Process == PY {
		if r.Config.Discount > 0 {
			m["discount_fixed"] = r.Config.Discount
		} else {
			m["discount_prior"] = map[string]float64{"a": r.Config.DiscountPrior.A, "b": r.Config.DiscountPrior.B}
		}
	}
	b, _ := json.Marshal(m)
	return b
}

func (r *Result) samplerJSON() json.RawMessage {
	c := r.Config
	b, _ := json.Marshal(map[string]any{
		"sampler": "auxdp", "procs": c.Procs, "iters": c.Iters, "burn": c.Burn, "thin": c.Thin,
		"sweeps": c.Sweeps, "placement": c.Placement.String(), "move_fraction": c.MoveFraction,
		"split_merge": c.SplitMerge, "refresh_every": c.RefreshEvery, "init_labels": c.InitLabels != nil,
	})
	return b
}

func (r *Result) meta(kind chains.Kind, opts WriteOptions) chains.Meta {
	seed := r.Config.Seed
	return chains.Meta{
		Kind: kind, Model: r.modelJSON(), Sampler: r.samplerJSON(), Seed: &seed,
		DataFingerprint: opts.DataFingerprint, Version: epmc.Version,
	}
}

// Write writes the run to two Arrow IPC files, each atomically: the trace
// at path (a draws file, readable by every epmc command and by R
// posterior, see TraceDraws) and the saved assignment draws at
// AssignmentsPath(path) (see WriteAssignments). Every value except the
// seconds__ column is the same whatever the number of workers.
func (r *Result) Write(path string, opts WriteOptions) error {
	d := r.TraceDraws()
	d.Meta = r.meta(KindTrace, opts)
	if err := chains.WriteFile(path, d, chains.WriteOptions{Compression: opts.Compression}); err != nil {
		return err
	}
	return r.WriteAssignments(AssignmentsPath(path), opts)
}

// WriteAssignments writes the saved draws of the partition as an Arrow IPC
// file with one row per draw: .draw (1-based), .iteration, K, alpha (α or
// θ), discount, lp__ and z, a list<int32> of the N labels (1..K, in order
// of first appearance). Schema metadata holds epmc.kind =
// "dpmm-assignments" and the model and sampler settings.
func (r *Result) WriteAssignments(path string, opts WriteOptions) error {
	mem := memory.NewGoAllocator()
	keys := []string{"epmc.format_version", "epmc.kind", "epmc.model", "epmc.sampler", "epmc.seed", "epmc.version", "epmc.n"}
	vals := []string{strconv.Itoa(chains.FormatVersion), string(KindAssignments), string(r.modelJSON()), string(r.samplerJSON()),
		strconv.FormatUint(r.Config.Seed, 10), epmc.Version, strconv.Itoa(r.N)}
	if opts.DataFingerprint != "" {
		keys = append(keys, "epmc.data_fingerprint")
		vals = append(vals, opts.DataFingerprint)
	}
	md := arrow.NewMetadata(keys, vals)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: chains.ColDraw, Type: arrow.PrimitiveTypes.Int32},
		{Name: chains.ColIteration, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColK, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColAlpha, Type: arrow.PrimitiveTypes.Float64},
		{Name: ColDiscount, Type: arrow.PrimitiveTypes.Float64},
		{Name: chains.LP, Type: arrow.PrimitiveTypes.Float64},
		{Name: ColLabels, Type: arrow.ListOf(arrow.PrimitiveTypes.Int32)},
	}, &md)
	out, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer out.Abort()
	if err := r.fillAssignments(out, schema, mem); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return out.Commit()
}

func (r *Result) fillAssignments(w io.WriteSeeker, schema *arrow.Schema, mem memory.Allocator) error {
	fw, err := ipc.NewFileWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err != nil {
		return err
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	// Batches of about a million labels keep memory bounded.
	per := max(1, (1<<20)/max(1, r.N))
	for start := 0; start < len(r.Draws); start += per {
		for s := start; s < min(start+per, len(r.Draws)); s++ {
			dr := &r.Draws[s]
			b.Field(0).(*array.Int32Builder).Append(int32(s + 1))
			b.Field(1).(*array.Int32Builder).Append(int32(dr.Iteration))
			b.Field(2).(*array.Int32Builder).Append(int32(dr.K))
			b.Field(3).(*array.Float64Builder).Append(dr.Alpha)
			b.Field(4).(*array.Float64Builder).Append(dr.Discount)
			b.Field(5).(*array.Float64Builder).Append(dr.LogJoint)
			lb := b.Field(6).(*array.ListBuilder)
			lb.Append(true)
			lb.ValueBuilder().(*array.Int32Builder).AppendValues(dr.Labels, nil)
		}
		rec := b.NewRecord()
		err := fw.Write(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return fw.Close()
}

// ReadAssignments reads a file written by WriteAssignments and returns its
// draws.
func ReadAssignments(path string) (draws []Draw, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			draws, err = nil, fmt.Errorf("%s: corrupt Arrow file (%v)", path, p)
		}
	}()
	rd, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		return nil, fmt.Errorf("%s: not an Arrow IPC file: %w", path, err)
	}
	defer rd.Close()
	schema := rd.Schema()
	if k, ok := schema.Metadata().GetValue("epmc.kind"); !ok || k != string(KindAssignments) {
		return nil, fmt.Errorf("%s: not an epmc assignments file (epmc.kind is %q)", path, k)
	}
	col := func(name string) int {
		idx := schema.FieldIndices(name)
		if len(idx) != 1 {
			return -1
		}
		return idx[0]
	}
	ci, ck, ca, cd, cl, cz := col(chains.ColIteration), col(ColK), col(ColAlpha), col(ColDiscount), col(chains.LP), col(ColLabels)
	if ci < 0 || ck < 0 || ca < 0 || cd < 0 || cl < 0 || cz < 0 {
		return nil, fmt.Errorf("%s: missing columns", path)
	}
	for b := 0; b < rd.NumRecords(); b++ {
		rec, err := rd.RecordAt(b)
		if err != nil {
			return nil, fmt.Errorf("%s: record batch %d: %w", path, b, err)
		}
		it, ok1 := rec.Column(ci).(*array.Int32)
		k, ok2 := rec.Column(ck).(*array.Int32)
		al, ok3 := rec.Column(ca).(*array.Float64)
		dc, ok4 := rec.Column(cd).(*array.Float64)
		lp, ok5 := rec.Column(cl).(*array.Float64)
		z, ok6 := rec.Column(cz).(*array.List)
		if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
			rec.Release()
			return nil, fmt.Errorf("%s: columns have unexpected types", path)
		}
		vals, ok := z.ListValues().(*array.Int32)
		if !ok {
			rec.Release()
			return nil, fmt.Errorf("%s: column z is not a list of int32", path)
		}
		offs := z.Offsets()
		for i := range int(rec.NumRows()) {
			labels := append([]int32(nil), vals.Int32Values()[offs[i]:offs[i+1]]...)
			draws = append(draws, Draw{Iteration: int(it.Value(i)), K: int(k.Value(i)), Alpha: al.Value(i),
				Discount: dc.Value(i), LogJoint: lp.Value(i), Labels: labels})
		}
		rec.Release()
	}
	if len(draws) == 0 {
		return nil, fmt.Errorf("%s: %w", path, errNoDraws)
	}
	return draws, nil
}
