package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// link is a link to the log of the CI job or task that ran Runway.
type link struct {
	Label string
	URL   string
}

// ecsMetadataTimeout bounds the fetch of the ECS task metadata: a message
// without its link beats a late message.
const ecsMetadataTimeout = 2 * time.Second

// ciLink finds the job or task log from the environment: GitHub Actions,
// GitLab, CircleCI, CodeBuild, then ECS (which needs one local HTTP call to
// the task metadata endpoint). ok is false when nothing is known.
func ciLink(ctx context.Context, getenv func(string) string) (l link, ok bool) {
	if server, repo, run := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID"); server != "" && repo != "" && run != "" {
		return webLink("GitHub Actions run", strings.TrimRight(server, "/")+"/"+repo+"/actions/runs/"+run)
	}
	if u := getenv("CI_JOB_URL"); u != "" {
		return webLink("GitLab job", u)
	}
	if u := getenv("CIRCLE_BUILD_URL"); u != "" {
		return webLink("CircleCI job", u)
	}
	if u := getenv("CODEBUILD_BUILD_URL"); u != "" {
		return webLink("CodeBuild build", u)
	}
	if m := getenv("ECS_CONTAINER_METADATA_URI_V4"); m != "" {
		return ecsLink(ctx, m)
	}
	return link{}, false
}

// webLink accepts only http(s) links without characters that would break
// Slack's <url|label> syntax.
func webLink(label, raw string) (link, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return link{}, false
	}
	s := u.String()
	if strings.ContainsAny(s, "|<> ") {
		return link{}, false
	}
	return link{Label: label, URL: s}, true
}

// ecsLink asks the task metadata endpoint for the task ARN and turns it into
// the console link of the task (its Logs tab is one click away).
func ecsLink(ctx context.Context, metadataURI string) (link, bool) {
	ctx, cancel := context.WithTimeout(ctx, ecsMetadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(metadataURI, "/")+"/task", nil)
	if err != nil {
		return link{}, false
	}
	// The endpoint is link-local: never through a proxy.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return link{}, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return link{}, false
	}
	var meta struct {
		Cluster string `json:"Cluster"`
		TaskARN string `json:"TaskARN"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&meta); err != nil {
		return link{}, false
	}
	return ecsTaskLink(meta.TaskARN, meta.Cluster)
}

// ecsTaskLink builds the console link from a task ARN,
// arn:PARTITION:ecs:REGION:ACCOUNT:task/CLUSTER/TASKID (or the older
// task/TASKID, whose cluster comes from the Cluster field).
func ecsTaskLink(taskARN, cluster string) (link, bool) {
	parts := strings.SplitN(taskARN, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "ecs" || parts[3] == "" {
		return link{}, false
	}
	partition, region, resource := parts[1], parts[3], strings.Split(parts[5], "/")
	if resource[0] != "task" || len(resource) < 2 {
		return link{}, false
	}
	taskID := resource[len(resource)-1]
	if len(resource) == 3 {
		cluster = resource[1]
	} else if i := strings.LastIndex(cluster, "/"); i >= 0 {
		cluster = cluster[i+1:] // a cluster ARN
	}
	if cluster == "" || taskID == "" {
		return link{}, false
	}
	console := "https://console.aws.amazon.com"
	switch partition {
	case "aws-cn":
		console = "https://console.amazonaws.cn"
	case "aws-us-gov":
		console = "https://console.amazonaws-us-gov.com"
	}
	u := console + "/ecs/v2/clusters/" + url.PathEscape(cluster) + "/tasks/" + url.PathEscape(taskID) + "?region=" + url.QueryEscape(region)
	return link{Label: "ECS task " + taskID, URL: u}, true
}
