using System.Text.Json.Nodes;
using HeadWise.Models;
using HeadWise.Steering;
using HeadWise.Tests.Cli;

namespace HeadWise.Tests.Steering;

/// <summary>
/// Issue 19, acceptance 5: a steering file for another model shape, scales that are not positive and values out of range
/// each get one `error: ...` line and exit 1, from the library (the message) and the CLI (the line and the code).
/// </summary>
public class SteeringBadInputTests
{
    private static string Testbed => Path.Combine(Packaging.PackedPackages.RepoRoot, "models", "testbed-2k", "model.gguf");
    // The testbed's shape (4 layers x 4 heads of 32), spelled out so the library tests need no model file.
    private static readonly ModelSpec TestbedShape = new() { Architecture = "llama", Layers = 4, Heads = 4, KvHeads = 4, HeadDim = 32, Dim = 128, FfnDim = 384, VocabSize = 1024, ContextLength = 2048 };

    private static string Write(ISteering s, ModelSpec spec, Action<JsonObject>? edit = null)
    {
        var json = SteeringFile.ToJson(s, spec);
        edit?.Invoke(json);
        var path = Path.Combine(TestPaths.NewTempDir(), "steer.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    [Fact]
    public void A_steering_file_for_another_shape_is_refused_naming_both_shapes()
    {
        var path = Write(new ZeroTuning([new HeadRef(0, 1)], 0.5), TestbedShape with { Layers = 5, Heads = 8 });
        var e = Assert.Throws<InvalidModelFileException>(() => SteeringFile.Load(path, TestbedShape));
        Assert.Contains("5 layers x 8 heads", e.Message);
        Assert.Contains("this model has 4 x 4", e.Message);
    }

    [Theory]
    [InlineData("zerotuning", "scale", 0.0, "must be a finite number > 0")]
    [InlineData("zerotuning", "scale", -1.0, "must be a finite number > 0")]
    [InlineData("act", "beta", 1.5, "must be in [0, 1]")]
    [InlineData("act", "threshold", 0.0, "must be in (0, 1]")]
    public void Scales_and_fractions_out_of_range_are_refused(string method, string key, double value, string message)
    {
        ISteering s = method == "act" ? new AttentionCalibration([new HeadRef(1, 2)]) : new ZeroTuning([new HeadRef(1, 2)], 0.5);
        var path = Write(s, TestbedShape, j => j["steering"]![key] = value);
        var e = Assert.Throws<InvalidModelFileException>(() => SteeringFile.Load(path, TestbedShape));
        Assert.Contains(message, e.Message);
        Assert.Throws<InvalidModelFileException>(() => SteeringFile.Load(Write(s, TestbedShape, j => j["steering"]!["heads"] = new JsonArray("4.0")), TestbedShape));
        Assert.Throws<InvalidModelFileException>(() => SteeringFile.Load(Write(s, TestbedShape, j => j["method"] = "pasta"), TestbedShape));
    }

    [Fact]
    public void Injection_weights_outside_zero_one_are_refused()
    {
        var embedding = Enumerable.Range(0, 4).Select(_ => Enumerable.Range(0, 4).Select(_ => new float[32]).ToArray()).ToArray();
        var alpha = Enumerable.Range(0, 4).Select(_ => new float[4]).ToArray();
        alpha[2][3] = 1.5f;
        var e = Assert.Throws<InvalidModelFileException>(() => SteeringFile.Load(Write(new SoftInjection(embedding, alpha), TestbedShape), TestbedShape));
        Assert.Contains("weight of head 2.3", e.Message);
    }

    [Fact]
    public void The_cli_gives_one_error_line_and_exit_1_for_each_bad_input()
    {
        var otherShape = Write(new ZeroTuning([new HeadRef(0, 1)], 0.5), TestbedShape with { Layers = 5, Heads = 8 });
        var zeroScale = Write(new ZeroTuning([new HeadRef(0, 1)], 0.5), TestbedShape, j => j["steering"]!["scale"] = 0);
        string[][] cases =
        [
            ["bench", "--model", Testbed, "--task", "passkey", "--lengths", "256", "--depths", "0.5", "--steer", otherShape],
            ["bench", "--model", Testbed, "--task", "passkey", "--lengths", "256", "--depths", "0.5", "--steer", zeroScale],
            ["steer", "zerotuning", "--model", Testbed, "--task", "passkey", "--steer-params", "down=0"],
            ["steer", "act", "--model", Testbed, "--task", "passkey", "--steer-params", "beta=2"],
            ["steer", "inject", "--model", Testbed, "--task", "passkey", "--dev", "0"],
        ];
        foreach (var args in cases)
        {
            var r = CliProcess.Run(args);
            Assert.True(r.ExitCode == 1, $"{string.Join(' ', args)}: exit {r.ExitCode}\n{r.Stderr}");
            var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("error: ", line);
        }
    }

    [Fact]
    public void Bench_applies_a_steering_file_and_records_it()
    {
        var dir = TestPaths.NewTempDir();
        // Heads 0.0 and 1.1 never attend the first token: a tiny scale changes the answers' route, and the result says so.
        var path = Write(new ZeroTuning([new HeadRef(0, 0), new HeadRef(1, 1)], 0.01), TestbedShape);
        string[] common = ["bench", "--model", Testbed, "--task", "passkey", "--lengths", "256", "--depths", "0.5", "--samples", "2"];
        var plain = CliProcess.Run([.. common, "--json", Path.Combine(dir, "plain.json")]);
        var steered = CliProcess.Run([.. common, "--steer", path, "--json", Path.Combine(dir, "steered.json")]);
        Assert.Equal(0, plain.ExitCode);
        Assert.Equal(0, steered.ExitCode);
        var a = HeadWise.Eval.BenchResult.FromJson(File.ReadAllText(Path.Combine(dir, "plain.json")));
        var b = HeadWise.Eval.BenchResult.FromJson(File.ReadAllText(Path.Combine(dir, "steered.json")));
        Assert.Null(a.Steering);
        Assert.StartsWith("zerotuning: heads 0.0,1.1 first-token attention x0.01 (steer.json)", b.Steering);
        Assert.Contains("steering zerotuning", steered.Stdout);
    }
}
