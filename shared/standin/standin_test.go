package standin_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cronless/cronless/shared/standin"
)

func TestStandInsStartOnLoopbackOnly(t *testing.T) {
	ctx := context.Background()
	fq := standin.Fauxqs(t)
	if _, err := fq.SQS(t).ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Fatalf("fauxqs: %v\n%s", err, fq.Log())
	}
	dl := standin.Dynalite(t, "")
	if _, err := dl.DynamoDB(t).ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("dynalite: %v\n%s", err, dl.Log())
	}
	mo := standin.Moto(t)
	if _, err := mo.SQS(t).ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Fatalf("moto: %v\n%s", err, mo.Log())
	}
	// Nothing listens on the machine's other addresses.
	for _, s := range []*standin.Server{fq, dl, mo} {
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			ip, _, _ := net.ParseCIDR(a.String())
			if ip == nil || ip.IsLoopback() || ip.To4() == nil {
				continue
			}
			if c, err := net.Dial("tcp", net.JoinHostPort(ip.String(), itoa(s.Port))); err == nil {
				c.Close()
				t.Errorf("%s accepts connections on %s: it must listen on 127.0.0.1 only", s.Name, ip)
			}
		}
	}
	fq.Restart(t)
	if _, err := fq.SQS(t).ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Fatalf("fauxqs after restart: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// The Python tools are pinned twice: in the Makefile, which installs them,
// and in standin, which refuses other versions. They must agree.
func TestPythonToolPinsMatchMakefile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(standin.Root(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"CFN_LINT": standin.CfnLintVersion, "MOTO": standin.MotoVersion} {
		m := regexp.MustCompile(`(?m)^` + name + `\s*:=\s*(\S+)$`).FindSubmatch(b)
		if m == nil {
			t.Errorf("the Makefile sets no %s", name)
		} else if string(m[1]) != want {
			t.Errorf("the Makefile pins %s %s, standin %s", name, m[1], want)
		}
	}
}

// A client that hangs up while dynalite still reads its request (a Go client
// whose context is cancelled mid-call) leaves the server up, as DynamoDB
// would. dynalite 4.0.0 alone crashes on it; dynalite.js keeps it serving.
func TestDynaliteSurvivesAClientHangingUpMidRequest(t *testing.T) {
	dl := standin.Dynalite(t, "")
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", "127.0.0.1:"+itoa(dl.Port))
		if err != nil {
			t.Fatal(err)
		}
		// Promise a 1,000-byte body, send 10 bytes of it, and hang up.
		_, err = c.Write([]byte("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
			"X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Type: application/x-amz-json-1.0\r\n" +
			"Content-Length: 1000\r\n\r\n{\"Limit\":1"))
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if _, err := dl.DynamoDB(t).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("dynalite after three clients hung up mid-request: %v\n%s", err, dl.Log())
	}
}
