package codec

// AppendJSONString appends s as a JSON string, with encoding/json's
// escaping (see AppendStreamJSON): what a room's --envelope=json writes to
// its child (engine/room_envelope.go) is built from it, without a trip
// through reflection for every client message.
func AppendJSONString(dst []byte, s []byte) []byte { return appendJSONString(dst, s) }

// AppendJSONStringString is AppendJSONString for a string.
func AppendJSONStringString(dst []byte, s string) []byte { return appendJSONString(dst, s) }
