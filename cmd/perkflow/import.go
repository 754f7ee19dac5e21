package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/perkflow/perkflow/internal/config"
)

func init() {
	addCommand(func() *cobra.Command {
		o := importOptions{}
		c := &cobra.Command{
			Use:   "import FILE --kind members|transactions|balances",
			Short: "Upload a file of members, transactions or balances and follow its import",
			Long: "Upload FILE through the API (POST /v1/imports, with the admin key PERKFLOW_API_KEY) and follow the import\n" +
				"with a progress bar until it ends; failed rows are saved beside the file as FILE.errors.csv. Exit 1 when\n" +
				"the import failed, was cancelled or had failed rows.",
			Example: "  PERKFLOW_API_KEY=pk_... perkflow import members.csv --kind members --dry-run",
			Args: func(c *cobra.Command, args []string) error {
				if len(args) != 1 {
					return usagef("%s needs one FILE (got %d arguments)", c.CommandPath(), len(args))
				}
				return nil
			},
			RunE: func(c *cobra.Command, args []string) error {
				switch o.Kind {
				case "members", "transactions", "balances":
				default:
					return usagef("--kind %q: must be members, transactions or balances", o.Kind)
				}
				if o.Format != "" && o.Format != "csv" && o.Format != "ndjson" {
					return usagef("--format %q: must be csv or ndjson", o.Format)
				}
				o.File = args[0]
				o.APIURL, o.APIKey = config.Lookup("PERKFLOW_API_URL"), config.Lookup("PERKFLOW_API_KEY")
				_, err := importFile(c.Context(), o, c.ErrOrStderr())
				return err
			},
		}
		c.Flags().StringVar(&o.Kind, "kind", "", "members, transactions or balances (required)")
		c.Flags().StringVar(&o.Format, "format", "", "csv or ndjson (default: by the file's extension, else csv)")
		c.Flags().BoolVar(&o.DryRun, "dry-run", false, "check every row and report what would happen, writing nothing")
		_ = c.MarkFlagRequired("kind")
		return readsEnv(c, "PERKFLOW_API_URL", "PERKFLOW_API_KEY")
	})
}

// importOptions are what importFile needs.
type importOptions struct {
	File, Kind, Format string
	DryRun             bool
	// APIURL is the API's base URL; APIKey an admin key.
	APIURL, APIKey string
	// Poll is how often progress is read (default 1 s).
	Poll time.Duration
	// Client is the HTTP client (default: one without a timeout, uploads are long).
	Client *http.Client
}

// importStatus is the part of GET /v1/imports/{id} the command shows.
type importStatus struct {
	ImportID     string   `json:"import_id"`
	Status       string   `json:"status"`
	RowsTotal    int64    `json:"rows_total"`
	RowsRead     int64    `json:"rows_read"`
	RowsImported int64    `json:"rows_imported"`
	RowsSkipped  int64    `json:"rows_skipped"`
	RowsFailed   int64    `json:"rows_failed"`
	Rate         float64  `json:"rate_per_second"`
	ETA          *float64 `json:"eta_seconds"`
	Failure      string   `json:"failure"`
}

// importFile uploads a file to POST /v1/imports and follows the import until it ends, drawing a progress bar on
// out. The failed rows, if any, are written to FILE.errors.csv. The error is non-nil when the upload was refused,
// the import failed or was cancelled, or some rows failed; the status is the import's last.
func importFile(ctx context.Context, o importOptions, out io.Writer) (importStatus, error) {
	if o.APIKey == "" {
		return importStatus{}, errors.New("set PERKFLOW_API_KEY to an admin API key")
	}
	if o.Format == "" {
		o.Format = "csv"
		if strings.HasSuffix(o.File, ".ndjson") || strings.HasSuffix(o.File, ".jsonl") {
			o.Format = "ndjson"
		}
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	hc := o.Client
	if hc == nil {
		hc = &http.Client{}
	}
	f, err := os.Open(o.File)
	if err != nil {
		return importStatus{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return importStatus{}, err
	}
	base := strings.TrimRight(o.APIURL, "/")
	q := url.Values{"kind": {o.Kind}, "format": {o.Format}, "dry_run": {fmt.Sprint(o.DryRun)}}
	body := &uploadProgress{r: f, total: info.Size(), out: out}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/imports?"+q.Encode(), body)
	if err != nil {
		return importStatus{}, err
	}
	req.ContentLength = info.Size()
	req.Header.Set("Authorization", "Bearer "+o.APIKey)
	req.Header.Set("Content-Type", map[string]string{"csv": "text/csv", "ndjson": "application/x-ndjson"}[o.Format])
	var st importStatus
	if err := callJSON(hc, req, http.StatusAccepted, &st); err != nil {
		fmt.Fprintln(out)
		return st, fmt.Errorf("upload refused: %w", err)
	}
	fmt.Fprintf(out, "\nimport %s: %d rows\n", st.ImportID, st.RowsTotal)
	tick := time.NewTicker(o.Poll)
	defer tick.Stop()
	for !finishedImport(st.Status) {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out)
			return st, fmt.Errorf("stopped following import %s (it goes on): %w", st.ImportID, ctx.Err())
		case <-tick.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/imports/"+st.ImportID, nil)
		if err != nil {
			return st, err
		}
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
		if err := callJSON(hc, req, http.StatusOK, &st); err != nil {
			fmt.Fprintf(out, "\rprogress not read (%v); retrying", err)
			continue
		}
		fmt.Fprint(out, "\r"+progressBar(st))
	}
	fmt.Fprintf(out, "\r%s\n%s: %d imported, %d skipped (unchanged), %d failed of %d rows\n", progressBar(st), st.Status,
		st.RowsImported, st.RowsSkipped, st.RowsFailed, st.RowsTotal)
	if st.RowsFailed > 0 {
		if path, err := saveImportErrors(ctx, hc, base, o.APIKey, st.ImportID, o.File); err != nil {
			fmt.Fprintf(out, "the failed rows could not be saved (%v): GET /v1/imports/%s/errors\n", err, st.ImportID)
		} else {
			fmt.Fprintf(out, "failed rows, with error_line and error: %s\n", path)
		}
	}
	switch {
	case st.Status == "failed":
		return st, fmt.Errorf("import %s failed: %s", st.ImportID, st.Failure)
	case st.Status == "cancelled":
		return st, fmt.Errorf("import %s was cancelled", st.ImportID)
	case st.RowsFailed > 0:
		return st, fmt.Errorf("import %s: %d rows failed", st.ImportID, st.RowsFailed)
	}
	return st, nil
}

func finishedImport(status string) bool {
	return status == "completed" || status == "failed" || status == "cancelled"
}

// progressBar draws "[#####-----]  50%  50000/100000 rows  1234 rows/s  ETA 40s".
func progressBar(st importStatus) string {
	const width = 30
	frac := 0.0
	if st.RowsTotal > 0 {
		frac = float64(st.RowsRead) / float64(st.RowsTotal)
	}
	n := int(frac * width)
	eta := ""
	if st.ETA != nil {
		eta = fmt.Sprintf("  ETA %s", (time.Duration(*st.ETA) * time.Second).Round(time.Second))
	}
	return fmt.Sprintf("[%s%s] %3.0f%%  %d/%d rows  %.0f rows/s%s  ", strings.Repeat("#", n), strings.Repeat("-", width-n),
		frac*100, st.RowsRead, st.RowsTotal, st.Rate, eta)
}

// uploadProgress counts the bytes sent, drawing the upload's progress.
type uploadProgress struct {
	r     io.Reader
	total int64
	sent  int64
	out   io.Writer
	last  time.Time
}

func (u *uploadProgress) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	u.sent += int64(n)
	if now := time.Now(); now.Sub(u.last) > 200*time.Millisecond || errors.Is(err, io.EOF) {
		u.last = now
		pct := 100.0
		if u.total > 0 {
			pct = float64(u.sent) * 100 / float64(u.total)
		}
		fmt.Fprintf(u.out, "\ruploading %3.0f%%  %d/%d bytes", pct, u.sent, u.total)
	}
	return n, err
}

// callJSON sends req and decodes a JSON answer of status want; another status is an error with the problem's detail.
func callJSON(hc *http.Client, req *http.Request, want int, v any) error {
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		var p struct {
			Detail string `json:"detail"`
		}
		if json.Unmarshal(b, &p) == nil && p.Detail != "" {
			return fmt.Errorf("%d: %s", res.StatusCode, p.Detail)
		}
		return fmt.Errorf("%d: %s", res.StatusCode, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, v)
}

// saveImportErrors writes the import's failed rows beside the file, as FILE.errors.csv.
func saveImportErrors(ctx context.Context, hc *http.Client, base, key, id, file string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/imports/"+id+"/errors", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", res.StatusCode)
	}
	path := file + ".errors.csv"
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}
