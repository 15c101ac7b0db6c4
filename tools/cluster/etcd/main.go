// Command etcd is etcd's server from its own module: etcd's root module, which holds its main, is not served.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
