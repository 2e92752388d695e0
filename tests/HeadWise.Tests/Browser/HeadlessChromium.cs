using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace HeadWise.Tests.Browser;

/// <summary>
/// Debian's Chromium, headless, driven over the DevTools protocol (no npm, no downloaded browser): load a page, hover
/// an element with real mouse events, read the DOM, collect console errors and uncaught exceptions, take a screenshot.
/// `.ci/run` installs the chromium package when it is missing.
/// </summary>
public sealed partial class HeadlessChromium : IDisposable
{
    private readonly Process _process;
    private readonly ClientWebSocket _socket = new();
    private readonly string _profile = TestPaths.NewTempDir("hw-chromium");
    private readonly List<JsonObject> _events = [];
    private readonly Dictionary<int, TaskCompletionSource<JsonObject>> _pending = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;
    private int _nextId;

    public static string Executable =>
        Environment.GetEnvironmentVariable("HEADWISE_CHROMIUM") is { Length: > 0 } e ? e
        : File.Exists("/usr/bin/chromium") ? "/usr/bin/chromium"
        : throw new InvalidOperationException("Chromium is not installed: `bash .ci/run` installs Debian's chromium package (or apt-get install chromium)");

    [GeneratedRegex(@"DevTools listening on (ws://\S+)")]
    private static partial Regex Listening();

    public HeadlessChromium(string pageFile)
    {
        // The flags this machine needs (see the machine notes): no sandbox as root, no GPU, and no background networking,
        // whose connections the closed network refuses.
        var psi = new ProcessStartInfo(Executable) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars", "--window-size=1280,1000",
                     $"--user-data-dir={_profile}", "--remote-debugging-port=0", "about:blank" })
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _ = _process.StandardOutput.ReadToEndAsync();
        string? browserUrl = null;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (browserUrl is null && DateTime.UtcNow < deadline)
        {
            var line = _process.StandardError.ReadLine() ?? throw new InvalidOperationException("chromium exited before it listened");
            if (Listening().Match(line) is { Success: true } m) browserUrl = m.Groups[1].Value;
        }
        _ = _process.StandardError.ReadToEndAsync();
        if (browserUrl is null) throw new TimeoutException("chromium did not open its DevTools port in 60 s");
        // The page target's socket: http://host:port/json/list.
        var port = new Uri(browserUrl).Port;
        using var http = new HttpClient();
        var list = JsonNode.Parse(http.GetStringAsync($"http://127.0.0.1:{port}/json/list").Result)!.AsArray();
        var page = list.First(t => t!["type"]!.GetValue<string>() == "page")!["webSocketDebuggerUrl"]!.GetValue<string>();
        _socket.ConnectAsync(new Uri(page), CancellationToken.None).Wait(TimeSpan.FromSeconds(30));
        _reader = Task.Run(ReadLoop);
        Send("Runtime.enable");
        Send("Log.enable");
        Send("Page.enable");
        Navigate(new Uri(Path.GetFullPath(pageFile)).AbsoluteUri);
    }

    /// <summary>Loads <paramref name="url"/> and waits for its load event.</summary>
    public void Navigate(string url)
    {
        int seen = EventCount("Page.loadEventFired");
        Send("Page.navigate", new JsonObject { ["url"] = url });
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (EventCount("Page.loadEventFired") == seen)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{url} did not load in 60 s");
            Thread.Sleep(50);
        }
    }

    /// <summary>Runs a JavaScript expression in the page; returns its value as JSON.</summary>
    public JsonNode? Evaluate(string expression)
    {
        var r = Send("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true });
        if (r["exceptionDetails"] is { } ex) throw new InvalidOperationException($"page script failed: {ex.ToJsonString()}");
        return r["result"]?["value"];
    }

    /// <summary>Scrolls the element into view and moves the mouse onto its centre (a real mouseMoved event).</summary>
    public void Hover(string selector)
    {
        var at = Evaluate($"(() => {{ const e = document.querySelector({JsonSerializer.Serialize(selector)}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); " +
                          "const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()")
                 ?? throw new InvalidOperationException($"no element matches {selector}");
        foreach (var (x, y) in new[] { (1.0, 1.0), (at[0]!.GetValue<double>(), at[1]!.GetValue<double>()) })
            Send("Input.dispatchMouseEvent", new JsonObject { ["type"] = "mouseMoved", ["x"] = x, ["y"] = y });
    }

    /// <summary>Picks an option of a select element as a user would (value set, change event fired).</summary>
    public void Select(string selector, string value) =>
        Evaluate($"(() => {{ const e = document.querySelector({JsonSerializer.Serialize(selector)}); e.value = {JsonSerializer.Serialize(value)}; " +
                 "e.dispatchEvent(new Event('change', {bubbles: true})); return e.value; })()");

    /// <summary>A PNG of the viewport.</summary>
    public byte[] Screenshot() => Convert.FromBase64String(Send("Page.captureScreenshot", new JsonObject { ["format"] = "png" })["data"]!.GetValue<string>());

    /// <summary>Console errors, uncaught exceptions and error log entries so far.</summary>
    public IReadOnlyList<string> Errors()
    {
        lock (_events)
            return _events.Select(e => (string)e["method"]! switch
            {
                "Runtime.exceptionThrown" => "exception: " + e["params"]!["exceptionDetails"]!.ToJsonString(),
                "Runtime.consoleAPICalled" when (string)e["params"]!["type"]! is "error" or "assert" => "console: " + e["params"]!["args"]!.ToJsonString(),
                "Log.entryAdded" when (string)e["params"]!["entry"]!["level"]! == "error" => "log: " + e["params"]!["entry"]!["text"],
                _ => null,
            }).OfType<string>().ToList();
    }

    private int EventCount(string method) { lock (_events) return _events.Count(e => (string?)e["method"] == method); }

    private JsonObject Send(string method, JsonObject? parameters = null)
    {
        int id = Interlocked.Increment(ref _nextId);
        var done = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_pending) _pending[id] = done;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None).Wait();
        if (!done.Task.Wait(TimeSpan.FromSeconds(60))) throw new TimeoutException($"chromium did not answer {method}");
        var reply = done.Task.Result;
        if (reply["error"] is { } error) throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
        return reply["result"]?.AsObject() ?? new JsonObject();
    }

    private async Task ReadLoop()
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested && _socket.State == WebSocketState.Open)
            {
                var r = await _socket.ReceiveAsync(buffer, _stop.Token);
                message.Write(buffer, 0, r.Count);
                if (!r.EndOfMessage) continue;
                var json = JsonNode.Parse(message.ToArray())!.AsObject();
                message.SetLength(0);
                if (json["id"] is { } id)
                {
                    TaskCompletionSource<JsonObject>? waiter;
                    lock (_pending) _pending.Remove(id.GetValue<int>(), out waiter);
                    waiter?.SetResult(json);
                }
                else lock (_events) _events.Add(json);
            }
        }
        catch (OperationCanceledException) { }
        catch (WebSocketException) { }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _process.Kill(entireProcessTree: true); _process.WaitForExit(10_000); } catch (InvalidOperationException) { }
        _socket.Dispose();
        try { Directory.Delete(_profile, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
