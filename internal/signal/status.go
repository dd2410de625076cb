package signal

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// CheckStatus fails when any query of a GetMetricData answer (all pages, in order) did
// not complete. Each MetricDataResult has its own StatusCode (GetMetricData reference):
// Complete; PartialData ("an incomplete set of data points", the rest behind NextToken);
// InternalError; Forbidden. The call succeeds whatever the queries' statuses, so a
// query that failed with no datapoints looks exactly like an agent that stopped
// reporting: it must be an error, never silence. A PartialData result followed, on a
// later page, by a Complete one for the same query is complete.
func CheckStatus(results []cwtypes.MetricDataResult) error {
	last := map[string]cwtypes.StatusCode{}
	failed := map[string]cwtypes.StatusCode{}
	for _, r := range results {
		id := aws.ToString(r.Id)
		last[id] = r.StatusCode
		switch r.StatusCode {
		case cwtypes.StatusCodeComplete, cwtypes.StatusCodePartialData, "":
		default:
			failed[id] = r.StatusCode
		}
	}
	for id, s := range last {
		if s == cwtypes.StatusCodePartialData {
			failed[id] = s
		}
	}
	if len(failed) == 0 {
		return nil
	}
	ids := make([]string, 0, len(failed))
	for id := range failed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var parts []string
	for _, id := range ids {
		parts = append(parts, id+"="+string(failed[id]))
	}
	return fmt.Errorf("GetMetricData answered with incomplete queries (%s): not reading them as silence", strings.Join(parts, ", "))
}
