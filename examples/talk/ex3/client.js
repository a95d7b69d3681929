// The chat page's script: one WebSocket, bridged by `nc` to the chat
// server, which relays every line to every client.
var qs = document.querySelector.bind(document); // bound: querySelector needs its document
var inputElem = qs("#input");
var chatAreaElem = qs("#chat");
var sendElem = qs("#send");

function postChatMessage(text) {
  var line = document.createElement("div");
  line.className = "line";
  line.textContent = text;
  chatAreaElem.appendChild(line);
  chatAreaElem.scrollTop = chatAreaElem.scrollHeight;
}

var ws = new WebSocket("ws://" + location.host + "/", "ex3");
ws.onopen = function () {
  document.body.dataset.protocol = ws.protocol;
  var sendFunc = function () {
    ws.send(inputElem.value);
    inputElem.value = "";
  };
  sendElem.addEventListener("click", sendFunc);
  inputElem.addEventListener("keydown", function (event) {
    if (event.key === "Enter") sendFunc();
  });
  document.body.dataset.ready = "yes";
};
ws.onmessage = function (event) { postChatMessage(event.data); };
ws.onclose = function () { postChatMessage("Connection closed."); };
