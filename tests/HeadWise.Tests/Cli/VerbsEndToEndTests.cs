using System.Text.Json.Nodes;
using SkiaSharp;

namespace HeadWise.Tests.Cli;

/// <summary>
/// The verbs of the README's command table that no other test runs end to end, each through the CLI with its main options,
/// checking what it wrote: JSON fields and values (several by construction), tables that agree with the JSON, images of
/// the right size with ink on them, pages that parse. (info, generate, attention --html and embed run in
/// GenerateAndInfoCliTests, ReadmeExamplesTests, CliTruthTests, the browser tests and MiniLmParityTests; pattern,
/// attention --png, attribute --json and bench --json in VerbOutputsEndToEndTests.)
/// </summary>
public class VerbsEndToEndTests
{
    private static string M => TestPaths.Stories260KGguf; // 5 layers, 8 heads, 4 KV heads of size 8

    [Fact]
    public void Profile_writes_an_atlas_whose_json_csv_maps_and_page_agree()
    {
        var dir = Path.Combine(TestPaths.NewTempDir(), "atlas");
        var r = CliProcess.Run("profile", "--model", M, "--scores", "sink,retrieval", "--out", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var atlas = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "atlas.json")))!;
        Assert.Equal((5, 8, 4), ((int)atlas["layers"]!, (int)atlas["heads"]!, (int)atlas["kv_heads"]!));
        var sink = atlas["scores"]!["sink"]!.AsArray().Select(l => l!.AsArray().Select(v => (double)v!).ToArray()).ToArray();
        Assert.Equal(5, sink.Length);
        Assert.All(sink, row => Assert.Equal(8, row.Length));
        Assert.All(sink.SelectMany(x => x), v => Assert.InRange(v, 0.0, 1.0)); // a share of attention
        Assert.True(sink.SelectMany(x => x).Distinct().Count() > 10, "the sink map is one value repeated");

        // atlas.csv: one row per head, the same numbers as the JSON.
        var lines = File.ReadAllLines(Path.Combine(dir, "atlas.csv"));
        Assert.Equal(1 + 5 * 8, lines.Length);
        var header = lines[0].Split(',');
        int li = Array.IndexOf(header, "layer"), hi = Array.IndexOf(header, "head"), si = Array.IndexOf(header, "sink");
        Assert.True(li >= 0 && hi >= 0 && si >= 0, lines[0]);
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            Assert.Equal(sink[int.Parse(f[li])][int.Parse(f[hi])], double.Parse(f[si], System.Globalization.CultureInfo.InvariantCulture), 6);
        }
        AssertInk(Path.Combine(dir, "sink.png"));
        var page = File.ReadAllText(Path.Combine(dir, "index.html"));
        Assert.Contains("<html", page);
        Assert.Contains("sink", page);
        Assert.Contains("retrieval", page);
    }

    [Fact]
    public void Sweep_writes_results_whose_kv_bytes_follow_the_cache_arithmetic()
    {
        var dir = TestPaths.NewTempDir();
        // chunked: a ratio budget is a fraction of the whole sequence (under the default, context, it is a fraction of the
        // copy task's context, the first copy, and streaming rolls at that capacity through the repeat).
        var r = CliProcess.Run("sweep", "--model", M, "--task", "copy", "--policies", "full,streaming", "--budgets", "0.5",
            "--compress", "chunked", "--lengths", "101", "--samples", "2", "--out", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var rows = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "results.json")))!.AsArray();
        var full = rows.Single(x => (string)x!["policy"]! == "full")!;
        var streaming = rows.Single(x => (string)x!["policy"]! == "streaming")!;
        // K and V, float32: 5 layers x 4 KV heads x 8 dims x 101 positions x 2 x 4 bytes.
        const long fullBytes = 5L * 4 * 8 * 101 * 2 * 4;
        Assert.Equal(fullBytes, (long)full["kv_bytes"]!);
        Assert.Equal(fullBytes, (long)full["kv_bytes_full"]!);
        Assert.Equal(fullBytes, (long)streaming["kv_bytes_full"]!);
        Assert.InRange((long)streaming["kv_bytes"]!, fullBytes * 45 / 100, fullBytes * 55 / 100); // half the positions
        foreach (var row in new[] { full, streaming })
        {
            Assert.Equal("copy", (string)row["task"]!);
            Assert.Equal(2, (int)row["samples"]!);
            Assert.InRange((double)row["accuracy"]!, 0.0, 1.0);
            Assert.True(double.IsFinite((double)row["perplexity_nats"]!));
        }
        Assert.StartsWith("full ", r.Stdout);
        AssertInk(Path.Combine(dir, "accuracy_vs_kv.png"));
        Assert.Contains("<html", File.ReadAllText(Path.Combine(dir, "index.html")));
    }

    [Fact]
    public void Convert_writes_a_gguf_that_describes_and_generates_like_the_hugging_face_folder()
    {
        var dir = TestPaths.NewTempDir();
        var gguf = Path.Combine(dir, "ts656k.gguf");
        var c = CliProcess.Run("convert", "--model", TestPaths.TinyStories656K, "--out", gguf);
        Assert.True(c.ExitCode == 0, c.Stderr);
        JsonNode Info(string model, string name)
        {
            var json = Path.Combine(dir, name);
            var r = CliProcess.Run("info", "--model", model, "--json", json);
            Assert.True(r.ExitCode == 0, r.Stderr);
            return JsonNode.Parse(File.ReadAllText(json))!;
        }
        var hf = Info(TestPaths.TinyStories656K, "hf.json");
        var converted = Info(gguf, "gguf.json");
        Assert.Equal("safetensors", (string)hf["format"]!);
        Assert.Equal("gguf", (string)converted["format"]!);
        foreach (var key in new[] { "architecture", "layers", "heads", "kv_heads", "head_size", "hidden_size", "feed_forward_size", "vocabulary", "context_length", "parameters" })
            Assert.Equal(hf[key]!.ToJsonString(), converted[key]!.ToJsonString());
        Assert.Equal((2, 8, 4), ((int)hf["layers"]!, (int)hf["heads"]!, (int)hf["kv_heads"]!)); // the model card's shape

        string Generate(string model) => CliProcess.Run("generate", "--model", model, "--prompt", "Once upon a time", "--max-tokens", "24", "--temperature", "0").Stdout;
        var fromHf = Generate(TestPaths.TinyStories656K);
        Assert.True(fromHf.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length >= 10, fromHf);
        Assert.Equal(fromHf, Generate(gguf));
    }

    [Fact]
    public void Train_writes_a_model_folder_the_other_verbs_load()
    {
        var dir = Path.Combine(TestPaths.NewTempDir(), "tiny");
        var r = CliProcess.Run("train", "--config", Path.Combine(Packaging.PackedPackages.RepoRoot, "configs", "tiny-ci.json"), "--out", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("trained 20 steps", r.Stdout);
        var log = File.ReadAllLines(Path.Combine(dir, "train-log.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(Enumerable.Range(0, 20), log.Select(s => (int)s["step"]!));
        Assert.True((double)log[^1]["loss"]! < (double)log[0]["loss"]! - 0.3, "the loss did not fall");
        var card = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "model-card.json")))!;
        Assert.NotNull(card);
        AssertInk(Path.Combine(dir, "loss.png"));
        foreach (var model in new[] { Path.Combine(dir, "model.gguf"), dir })
        {
            var json = Path.Combine(TestPaths.NewTempDir(), "info.json");
            var info = CliProcess.Run("info", "--model", model, "--json", json);
            Assert.True(info.ExitCode == 0, info.Stderr);
            var spec = JsonNode.Parse(File.ReadAllText(json))!;
            Assert.Equal((2, 2, 16), ((int)spec["layers"]!, (int)spec["heads"]!, (int)spec["head_size"]!)); // configs/tiny-ci.json: dim 32, 2 heads
            Assert.Equal(300, (int)spec["vocabulary"]!);
        }
    }

    /// <summary>A PNG of a plausible size with more than a few colours and a good share of non-white pixels.</summary>
    private static void AssertInk(string png)
    {
        using var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        Assert.True(bitmap.Width >= 300 && bitmap.Height >= 200, $"{png}: {bitmap.Width}x{bitmap.Height}");
        var (colours, ink) = PngInk.Measure(bitmap);
        Assert.True(colours >= 8, $"{png}: {colours} colours");
        Assert.True(ink > 1.0 / 50, $"{png}: {100 * ink:F1}% ink");
    }
}
