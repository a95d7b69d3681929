module github.com/wsplex/wsplex/bench/websocketd

go 1.26

require github.com/joewalnes/websocketd v0.4.1

require github.com/gorilla/websocket v1.4.0 // indirect
