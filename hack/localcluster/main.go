// Command localcluster runs a local Kubernetes control plane (kube-apiserver and etcd, as
// built by hack/control-plane.sh) for the demo, and writes an admin kubeconfig for it. It
// runs until interrupted, then stops the control plane and removes its data.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func main() {
	kubeconfig := flag.String("write-kubeconfig", "kubeconfig", "Where to write the admin kubeconfig.")
	assets := flag.String("assets", os.Getenv("KUBEBUILDER_ASSETS"), "Directory holding kube-apiserver, etcd and kubectl.")
	flag.Parse()

	env := &envtest.Environment{BinaryAssetsDirectory: *assets}
	if _, err := env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster: starting the control plane:", err)
		os.Exit(1)
	}
	code := run(env, *kubeconfig)
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster: stopping the control plane:", err)
	}
	os.Exit(code)
}

func run(env *envtest.Environment, kubeconfig string) int {
	user, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster: creating the admin user:", err)
		return 1
	}
	data, err := user.KubeConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster: writing the kubeconfig:", err)
		return 1
	}
	// Written to a temporary name and renamed, so a waiting script never reads half a file.
	if err := os.WriteFile(kubeconfig+".tmp", data, 0o600); err != nil || os.Rename(kubeconfig+".tmp", kubeconfig) != nil {
		fmt.Fprintln(os.Stderr, "localcluster: writing the kubeconfig failed")
		return 1
	}
	fmt.Println("localcluster: control plane ready, kubeconfig at", kubeconfig)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	return 0
}
