module floe.dev/gateway/bench/floor-go

go 1.22
