using System.Text.Json;

namespace HeadWise.Tests.Cli;

/// <summary>What the CLI says about itself is true: usage, help per verb, defaults, errors, progress on stderr only.</summary>
public class CliTruthTests
{
    private static string M => TestPaths.Stories260KGguf;

    [Fact]
    public void Usage_says_headwise_and_the_model_default_is_shown_once_and_relative()
    {
        var root = CliProcess.Run("--help");
        Assert.Contains("headwise [command] [options]", root.Stdout);
        Assert.DoesNotContain("HeadWise.Cli", root.Stdout);
        var info = CliProcess.Run("info", "--help").Stdout;
        Assert.Contains("headwise info [options]", info);
        var modelLine = info.Split('\n').Single(l => l.Contains("--model"));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(modelLine, "default"));
        Assert.Contains("[default: models/testbed-2k/model.gguf]", modelLine);
        Assert.DoesNotContain(HeadWise.Tests.Packaging.PackedPackages.RepoRoot, info); // no absolute path of the checkout
        Assert.Contains("Hugging Face model folder to convert", CliProcess.Run("convert", "--help").Stdout);
        Assert.Contains("BERT encoder exported to ONNX", CliProcess.Run("embed", "--help").Stdout);
        Assert.Contains("tokens in the cache when it compresses", CliProcess.Run("bench", "--help").Stdout);
    }

    [Fact]
    public void Kv_params_errors_list_the_valid_keys_and_info_json_holds_the_kv_table()
    {
        var bad = CliProcess.Run("info", "--model", M, "--kv", "--policy", "streaming", "--kv-params", "foo=1");
        Assert.Equal(1, bad.ExitCode);
        var line = Assert.Single(bad.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: streaming has no parameter foo", line);
        Assert.Contains("sinks", line);

        var json = Path.Combine(TestPaths.NewTempDir(), "info.json");
        var ok = CliProcess.Run("info", "--model", M, "--kv", "--context", "512", "--json", json);
        Assert.Equal(0, ok.ExitCode);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var kv = doc.RootElement.GetProperty("kv");
        Assert.Equal(512, kv.GetProperty("context").GetInt32());
        // 5 layers x 4 KV heads x 512 positions x head size 8 x (K and V) x 4 bytes, and streaming keeps a quarter.
        Assert.Equal(5L * 4 * 512 * 8 * 2 * 4, kv.GetProperty("full_bytes").GetInt64());
        var streaming = kv.GetProperty("policies").EnumerateArray().Single(p => p.GetProperty("policy").GetString() == "streaming");
        Assert.Equal(25.0, streaming.GetProperty("percent_of_full").GetDouble());
    }

    [Theory]
    [InlineData("TinyLlama/TinyLlama-1.1B-Chat-v1.0")]
    [InlineData("Qwen/Qwen2.5-0.5B")]
    public void Hub_names_with_dots_get_the_offline_message(string name)
    {
        var r = CliProcess.Run("info", "--model", name);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("does not download from model hubs", r.Stderr);
    }

    [Fact]
    public void An_html_path_in_a_missing_folder_is_one_clear_error()
    {
        var r = CliProcess.Run("attention", "--model", M, "--prompt", "Once upon a time", "--html", "no-such-folder/page.html");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("error: --html no-such-folder/page.html: the folder no-such-folder does not exist", r.Stderr.Trim());
        Assert.Empty(r.Stdout);
    }

    [Fact]
    public void Long_verbs_write_progress_to_stderr_only_and_count_in_words()
    {
        var dir = TestPaths.NewTempDir();
        var sweep = CliProcess.Run("sweep", "--model", M, "--task", "perplexity", "--policies", "full", "--lengths", "64", "--haystack", TestPaths.MobyDick,
            "--out", dir);
        Assert.Equal(0, sweep.ExitCode);
        Assert.StartsWith("full ", sweep.Stdout); // the results table first: no progress lines on stdout
        Assert.DoesNotContain("[#", sweep.Stdout);
        Assert.Contains("sweep [", sweep.Stderr);

        var bench = CliProcess.Run("bench", "--model", M, "--task", "perplexity", "--lengths", "64", "--haystack", TestPaths.MobyDick);
        Assert.Equal(0, bench.ExitCode);
        Assert.Contains("length 64:", bench.Stdout);
        Assert.Contains("(1 prompt)", bench.Stdout);
        Assert.Contains("bench [", bench.Stderr);

        var profile = CliProcess.Run("profile", "--model", M, "--scores", "sink", "--probe-docs", "4", "--out", Path.Combine(dir, "atlas"));
        Assert.Equal(0, profile.ExitCode);
        Assert.Matches(@"probing with 3 documents of \d+ tokens \(4 asked for: the probe text has \d+ tokens, enough for 3", profile.Stderr);
        Assert.True(File.Exists(Path.Combine(dir, "atlas", "atlas.csv")));
    }
}
