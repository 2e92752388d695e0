using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using HeadWise.Models;
using SkiaSharp;
using TorchSharp;

namespace HeadWise.Tests.Cli;

/// <summary>
/// The README command table's verbs whose written output no other test read (issue 23, acceptance 3): `pattern export`
/// and `import`, `attention --png`, `attribute --json`, `bench --json` and `steer`, each through the CLI, checking the files'
/// content against values that hold by construction or come from a plain forward pass.
/// </summary>
public class VerbOutputsEndToEndTests
{
    private static string Stories => TestPaths.Stories260KGguf; // 5 layers, 8 heads, 4 KV heads
    private static string Testbed => Path.Combine(Packaging.PackedPackages.RepoRoot, "models", "testbed-2k", "model.gguf");

    [Fact]
    public void Pattern_export_folds_query_heads_to_kv_heads_and_import_spreads_them_back()
    {
        var dir = TestPaths.NewTempDir();
        // 2 layers, 4 query heads in 2 groups of 2; each group's gate is its first query head's.
        var atlas = Path.Combine(dir, "atlas.json");
        File.WriteAllText(atlas, """
            {"model":"m","layers":2,"heads":4,"kv_heads":2,
             "scores":{"duo-gate":[[0.125,0.125,0.875,0.875],[0.5,0.5,0.25,0.25]]},
             "params":{"duo-gate":{"sinks":16,"recent":64,"loss_curve":[1,2],"kv_gates":[[0]],"steps":7}}}
            """);
        var tsv = Path.Combine(dir, "out", "full_attention_heads.tsv");
        Directory.CreateDirectory(Path.GetDirectoryName(tsv)!);
        var export = CliProcess.Run("pattern", "export", "--atlas", atlas, "--tsv", tsv);
        Assert.True(export.ExitCode == 0, export.Stderr);
        Assert.Equal(["0.125\t0.875", "0.5\t0.25"], File.ReadAllLines(tsv));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "out", "config.json")))!;
        Assert.Equal((16, 64), ((int)config["sink_size"]!, (int)config["recent_size"]!));
        Assert.Equal(7, (int)config["headwise_training"]!["steps"]!);          // the training record travels,
        Assert.Null(config["headwise_training"]!["loss_curve"]);              // the curve and gates do not
        Assert.Contains("2 layers x 2 KV heads; 16 sinks + 64 recent", export.Stdout);

        // A pattern as DuoAttention writes it (values outside [0, 1] are clipped when loaded), with its own streaming pattern.
        var foreign = Path.Combine(dir, "duo", "full_attention_heads.tsv");
        Directory.CreateDirectory(Path.GetDirectoryName(foreign)!);
        File.WriteAllText(foreign, "1\t0\n0.25\t1.75\n");
        File.WriteAllText(Path.Combine(dir, "duo", "config.json"), """{"sink_size": 4, "recent_size": 32}""");
        var import = CliProcess.Run("pattern", "import", "--atlas", atlas, "--tsv", foreign);
        Assert.True(import.ExitCode == 0, import.Stderr);
        var back = JsonNode.Parse(File.ReadAllText(atlas))!;
        var gates = back["scores"]!["duo-gate"]!.AsArray().Select(r => r!.AsArray().Select(v => (double)v!).ToArray()).ToArray();
        Assert.Equal([1.0, 1.0, 0.0, 0.0], gates[0]);
        Assert.Equal([0.25, 0.25, 1.0, 1.0], gates[1]);
        var p = back["params"]!["duo-gate"]!;
        Assert.Equal((4, 32), ((int)p["sinks"]!, (int)p["recent"]!));
    }

    [Fact]
    public void Attention_png_draws_one_heads_causal_pattern_and_the_layers_grid()
    {
        const string prompt = "Once upon a time, there was a little girl";
        using var m = ModelLoader.Load(Stories);
        int t = m.Tokenizer.Encode(prompt, addBos: m.Tokenizer.AddBosByDefault).Count;
        var dir = TestPaths.NewTempDir();
        var one = Path.Combine(dir, "head.png");
        var grid = Path.Combine(dir, "grid.png");
        var r1 = CliProcess.Run("attention", "--model", Stories, "--prompt", prompt, "--layer", "4", "--head", "2", "--png", one);
        var r2 = CliProcess.Run("attention", "--model", Stories, "--prompt", prompt, "--layer", "4", "--png", grid);
        Assert.True(r1.ExitCode == 0, r1.Stderr);
        Assert.True(r2.ExitCode == 0, r2.Stderr);
        Assert.Contains($"({t} tokens, layer 4, head 2)", r1.Stdout);
        Assert.Contains($"({t} tokens, layer 4, all 8 heads)", r2.Stdout);

        using var head = SKBitmap.Decode(one);
        using var heads = SKBitmap.Decode(grid);
        // 8 heads as a 3 x 3 grid: three panels across and down, each at least the single plot's minimum size.
        Assert.True(heads.Width >= 3 * 420 && heads.Height >= 3 * 360, $"grid {heads.Width}x{heads.Height}");
        Assert.True(head.Width >= 500 && head.Height >= 420 && head.Width < heads.Width, $"head {head.Width}x{head.Height}");
        foreach (var b in new[] { head, heads })
        {
            var (colours, ink) = PngInk.Measure(b);
            Assert.True(colours >= 16 && ink > 0.05, $"{colours} colours, {ink:P1} ink");
        }
        // Causal attention: the T(T-1)/2 cells above the diagonal hold weight 0, viridis's darkest purple (68, 1, 84).
        // They cover about a third of the plot area of the single head; a blank or uniform map has none.
        double purple = Share(head, c => Math.Abs(c.Red - 68) < 12 && c.Green < 20 && Math.Abs(c.Blue - 84) < 12);
        Assert.True(purple > 0.10, $"zero-weight cells cover {purple:P1} of the head's image");
        // The first query sees only itself: weight 1, viridis's yellow (253, 231, 37), in the top-left cell. The colour
        // bar (the rightmost fifth) is yellow at its top whatever the map holds, so it is left out.
        int yellow = Count(head, (x, c) => x < head.Width * 4 / 5 && c.Red > 220 && c.Green > 200 && c.Blue < 90);
        Assert.True(yellow > 100, $"{yellow} yellow pixels: no cell of weight ~1 drawn");
    }

    [Fact]
    public void Attribute_json_decomposes_the_logit_a_plain_forward_gives()
    {
        const string prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside. One day, her mom said, \"";
        var json = Path.Combine(TestPaths.NewTempDir(), "dla.json");
        var r = CliProcess.Run("attribute", "--model", Stories, "--prompt", prompt, "--target", "Lily", "--contrast", "She", "--json", json);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var o = JsonNode.Parse(File.ReadAllText(json))!;

        // The logit difference straight from the model, no attribution code involved.
        using var m = ModelLoader.Load(Stories);
        var ids = m.Tokenizer.Encode(prompt, addBos: m.Tokenizer.AddBosByDefault);
        int target = m.Tokenizer.Encode(prompt + "Lily", addBos: m.Tokenizer.AddBosByDefault)[ids.Count];
        int contrast = m.Tokenizer.Encode(prompt + "She", addBos: m.Tokenizer.AddBosByDefault)[ids.Count];
        float[] row;
        using (var scope = torch.NewDisposeScope())
            row = m.Transformer.Forward(torch.tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Count]))[0, ids.Count - 1].data<float>().ToArray();
        double expected = row[target] - row[contrast];

        Assert.Equal((target, contrast), ((int)o["target"]!, (int)o["contrast"]!));
        Assert.NotEqual(target, contrast);
        Assert.Equal(ids.Count - 1, (int)o["position"]!);
        Assert.Equal(expected, (double)o["logit"]!, 3);
        Assert.Equal(expected, (double)o["components_sum"]!, 2);            // the parts add up to the whole
        Assert.Equal(expected, o["components"]!.AsArray().Sum(c => (double)c!["value"]!), 2);
        var heads = o["heads"]!.AsArray().Select(l => l!.AsArray().Select(v => (double)v!).ToArray()).ToArray();
        Assert.Equal(5, heads.Length);
        Assert.All(heads, l => Assert.Equal(8, l.Length));
        // top_heads: the largest entries of the heads matrix, in order (README: head 4.2 copies the name).
        var top = o["top_heads"]!.AsArray();
        Assert.Equal(10, top.Count);
        var ranked = heads.SelectMany((l, li) => l.Select((v, hi) => (li, hi, v))).OrderByDescending(x => x.v).Take(10).ToList();
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal((ranked[i].li, ranked[i].hi), ((int)top[i]!["layer"]!, (int)top[i]!["head"]!));
            Assert.Equal(ranked[i].v, (double)top[i]!["value"]!, 9);
        }
        Assert.Equal((4, 2), ((int)top[0]!["layer"]!, (int)top[0]!["head"]!));
        // The printed table is the JSON's.
        Assert.Matches($@"\n4\.2\s+{Regex.Escape(((double)top[0]!["value"]!).ToString("F4", CultureInfo.InvariantCulture))}", r.Stdout.Replace("\r", ""));
    }

    [Fact]
    public void Bench_json_lists_each_answer_with_its_score_and_counts_the_full_cache()
    {
        var json = Path.Combine(TestPaths.NewTempDir(), "passkey.json");
        var r = CliProcess.Run("bench", "--model", Testbed, "--task", "passkey", "--lengths", "320", "--depths", "0.2,0.8",
            "--samples", "2", "--seed", "5", "--json", json);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var o = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(("passkey", "full"), ((string)o["task"]!, (string)o["policy"]!));
        var answers = o["answers"]!.AsArray();
        Assert.Equal(4, answers.Count); // 1 length x 2 depths x 2 samples
        double sum = 0;
        foreach (var a in answers)
        {
            string expected = (string)a!["expected"]!, output = (string)a["output"]!;
            Assert.Matches("^[0-9]+$", expected);
            Assert.False(string.IsNullOrWhiteSpace(output), "an answer's output is empty"); // the testbed always answers something
            var digits = Regex.Match(output, "[0-9]+");
            double score = digits.Success && digits.Value == expected ? 1 : 0; // exact match of the first digit run
            Assert.Equal(score, (double)a["score"]!);
            sum += score;
        }
        Assert.Equal(sum / answers.Count, (double)o["accuracy"]!, 12);
        Assert.True(sum >= 1, "no pass key found: the score check above would pass on a harness that scores everything 0");
        Assert.Contains($"accuracy {100 * sum / answers.Count:F1}%", r.Stdout);

        // Full cache: K and V in float32 for every prompt position, 4 layers x 4 KV heads x 32 dims (models/testbed-2k/config.json).
        long perPosition = 4L * 4 * 32 * 2 * 4;
        long full = (long)o["kv_bytes_full"]!;
        Assert.Equal(full, (long)o["kv_bytes"]!);
        Assert.InRange((double)full / perPosition, 300, 340); // mean over 320-token prompts, give or take the question's tokens
    }

    [Fact]
    public void Steer_writes_a_steering_file_whose_test_intervals_and_verdict_follow_from_its_scores()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "zerotuning.json");
        var r = CliProcess.RunIn(null, 600, "steer", "zerotuning", "--model", Testbed, "--task", "passkey", "--dev", "4", "--test", "4",
            "--lengths", "320", "--out", path);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var o = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal(("headwise-steering", "zerotuning"), ((string)o["format"]!, (string)o["method"]!));
        var model = o["model"]!;
        Assert.Equal((4, 4, 32), ((int)model["layers"]!, (int)model["heads"]!, (int)model["head_dim"]!)); // models/testbed-2k/config.json
        var found = o["found"]!;
        Assert.Equal(16, found["search"]!["profile"]!.AsArray().Count); // every head of 4 x 4 tried on the dev split
        Assert.Equal((int)found["dev"]!["seed"]! + 1, (int)found["test"]!["seed"]!); // the test split comes from the next seed

        (double Mean, double Low, double High, int N) Arm(string name)
        {
            var a = found[name]!;
            return ((double)a["mean"]!, (double)a["low"]!, (double)a["high"]!, (int)a["n"]!);
        }
        var plain = Arm("test_unsteered");
        var steered = Arm("test_steered");
        foreach (var a in new[] { plain, steered })
        {
            Assert.Equal((int)found["test"]!["prompts"]!, a.N);
            Assert.Equal(Math.Round(a.Mean * a.N), a.Mean * a.N, 9); // exact match: a share of the prompts
            // Wilson's 95% score interval: the p where (p - mean)^2 = z^2 p (1 - p) / n, solved here as a quadratic.
            double z2 = 1.959964 * 1.959964 / a.N, qa = 1 + z2, qb = -(2 * a.Mean + z2), qc = a.Mean * a.Mean;
            double root = Math.Sqrt(qb * qb - 4 * qa * qc);
            Assert.Equal((-qb - root) / (2 * qa), a.Low, 9);
            Assert.Equal((-qb + root) / (2 * qa), a.High, 9);
        }
        var diff = Arm("test_difference");
        Assert.Equal(steered.Mean - plain.Mean, diff.Mean, 9);
        string verdict = (string)found["verdict"]!;
        Assert.Equal(diff.Low <= 0 && diff.High >= 0, verdict.StartsWith("does not help"));
        if (o["steering"]!["heads"]!.AsArray().Count == 0)
        {
            // Nothing steered: the "steered" runs are the unsteered ones.
            Assert.Equal(plain, steered);
            Assert.Contains("nothing steered", r.Stdout);
        }
        Assert.Contains($"test unsteered {100 * plain.Mean:F1}% [{100 * plain.Low:F1}, {100 * plain.High:F1}] (n={plain.N})", r.Stdout);
    }

    private static double Share(SKBitmap b, Func<SKColor, bool> match) => (double)Count(b, (_, c) => match(c)) / (b.Width * b.Height);

    private static int Count(SKBitmap b, Func<int, SKColor, bool> match)
    {
        int n = 0;
        for (int y = 0; y < b.Height; y++)
            for (int x = 0; x < b.Width; x++)
                if (match(x, b.GetPixel(x, y))) n++;
        return n;
    }
}
