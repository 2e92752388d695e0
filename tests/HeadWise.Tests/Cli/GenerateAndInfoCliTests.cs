using System.Text.Json;
using HeadWise.Tests.Fixtures;

namespace HeadWise.Tests.Cli;

public class GenerateAndInfoCliTests
{
    [Fact]
    public void Greedy_generation_from_BOS_is_a_story_and_repeats_exactly()
    {
        var a = CliProcess.Run("generate", "--model", TestPaths.Stories260KGguf, "--max-tokens", "200", "--temperature", "0");
        var b = CliProcess.Run("generate", "--model", TestPaths.Stories260KGguf, "--max-tokens", "200", "--temperature", "0");
        Assert.Equal(0, a.ExitCode);
        Assert.Equal(a.Stdout, b.Stdout);
        // stories260K's well-known greedy opening (llama2.c README), and stdout holds only the story.
        Assert.StartsWith("Once upon a time, there was a little girl named Lily.", a.Stdout);
        Assert.DoesNotContain("tokens/s", a.Stdout);
        Assert.Contains("tokens/s", a.Stderr);
    }

    [Fact]
    public void Sampling_is_reproducible_for_a_seed_and_differs_across_seeds()
    {
        string[] Args(int seed) => ["generate", "--model", TestPaths.Stories260KGguf, "--prompt", "Once upon a time", "--max-tokens", "60",
            "--temperature", "1.0", "--top-p", "0.95", "--seed", seed.ToString()];
        var a = CliProcess.Run(Args(1));
        var b = CliProcess.Run(Args(1));
        var c = CliProcess.Run(Args(2));
        Assert.Equal(0, a.ExitCode);
        Assert.StartsWith("Once upon a time", a.Stdout);
        Assert.Equal(a.Stdout, b.Stdout);
        Assert.NotEqual(a.Stdout, c.Stdout);
    }

    [Fact]
    public void Info_reports_the_shape_of_stories260K_as_json()
    {
        var json = Path.Combine(TestPaths.NewTempDir(), "info.json");
        var r = CliProcess.Run("info", "--model", TestPaths.Stories260KGguf, "--json", json);
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        // Published shape of stories260K (../shared/models/README.md).
        Assert.Equal("llama", root.GetProperty("architecture").GetString());
        Assert.Equal(5, root.GetProperty("layers").GetInt32());
        Assert.Equal(8, root.GetProperty("heads").GetInt32());
        Assert.Equal(4, root.GetProperty("kv_heads").GetInt32());
        Assert.Equal(8, root.GetProperty("head_size").GetInt32());
        Assert.Equal(64, root.GetProperty("hidden_size").GetInt32());
        Assert.Equal(512, root.GetProperty("vocabulary").GetInt32());
        Assert.Equal("llama", root.GetProperty("tokenizer").GetString());
        Assert.Equal("F32", root.GetProperty("tensor_dtype").GetString());
        // 512*64 embedding + 5 layers of (2*64 norms + 64*64 q + 2*32*64 kv + 64*64 o + 3*172*64 ffn) + 64 final norm
        // + 512*64 output (the GGUF stores output.weight as its own tensor, a copy of the embedding).
        long expected = 512 * 64 + 5 * (2 * 64 + 64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 172 * 64) + 64 + 512 * 64;
        Assert.Equal(expected, root.GetProperty("parameters").GetInt64());
    }

    [Fact]
    public void Without_model_the_shipped_testbed_is_used()
    {
        var json = Path.Combine(TestPaths.NewTempDir(), "info.json");
        var r = CliProcess.Run("info", "--json", json);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        // The testbed's config (configs/testbed-2k.json): 4 layers of 4 heads, multi-head attention, 2,048 tokens.
        Assert.Equal(4, doc.RootElement.GetProperty("layers").GetInt32());
        Assert.Equal(4, doc.RootElement.GetProperty("kv_heads").GetInt32());
        Assert.Equal(2048, doc.RootElement.GetProperty("context_length").GetInt32());
    }

    [Theory]
    [InlineData("delta", "--kv-params 'delta': expected POLICY:key=value")]
    [InlineData("delta:full=1|delta:select=1", "--kv-params: policy 'delta' is given twice")]
    public void Bad_sweep_policy_parameters_give_one_clear_line(string parameters, string expected)
    {
        var args = new List<string> { "sweep", "--task", "copy", "--policies", "delta", "--out", TestPaths.NewTempDir() };
        foreach (var p in parameters.Split('|')) { args.Add("--kv-params"); args.Add(p); }
        var r = CliProcess.Run([.. args]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(expected, r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    /// <summary>Issue 16, acceptance 8: bad protocol, ratio and parameter values each get one line naming the valid choices.</summary>
    [Theory]
    [InlineData("--compress|later", "--compress 'later' is not a compression point; valid choices: context, question, chunked")]
    [InlineData("--compression-ratio|1.5", "compression ratio 1.5 is outside [0, 1)")]
    [InlineData("--compression-ratio|0.5|--budget|0.5", "give --budget or --compression-ratio, not both")]
    [InlineData("--policy|streaming|--kv-params|sink=3", "streaming has no parameter sink; valid keys: sinks=4")]
    [InlineData("--policy|snapkv|--budget|1.5", "ratio and must be in (0, 1]")]
    public void Bad_kv_protocol_budget_and_parameter_values_give_one_clear_line(string options, string expected)
    {
        var r = CliProcess.Run(["bench", "--task", "passkey", "--lengths", "100", "--depths", "0.5", .. options.Split('|')]);
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
    }

    /// <summary>Issue 16, acceptance 8, for sweep: its protocol, ratio lists and per-policy parameters get the same one-line errors.</summary>
    [Theory]
    [InlineData("--compress|later", "--compress 'later' is not a compression point; valid choices: context, question, chunked")]
    [InlineData("--compression-ratios|0.5,1.2", "compression ratio 1.2 is outside [0, 1)")]
    [InlineData("--compression-ratios|0.5|--budgets|0.5", "give --budgets or --compression-ratios, not both")]
    [InlineData("--budgets|0.25,1.5", "ratio and must be in (0, 1]")]
    [InlineData("--kv-params|snapkv:pooling=mean", "snapkv: pooling=mean is not a valid choice; valid choices: max, avg")]
    [InlineData("--kv-params|snapkv:windw=8", "snapkv has no parameter windw; valid keys: window=32 (")]
    [InlineData("--kv-params|snapkv:window=0", "snapkv: window=0 must be >= 1")]
    public void Bad_sweep_protocol_ratio_and_parameter_values_give_one_clear_line(string options, string expected)
    {
        var r = CliProcess.Run(["sweep", "--task", "passkey", "--policies", "snapkv", "--lengths", "100", "--depths", "0.5",
            "--out", TestPaths.NewTempDir(), .. options.Split('|')]);
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
    }

    [Fact]
    public void Llama2c_checkpoint_generates_the_same_story_as_the_gguf()
    {
        var gguf = CliProcess.Run("generate", "--model", TestPaths.Stories260KGguf, "--max-tokens", "80", "--temperature", "0");
        var bin = CliProcess.Run("generate", "--model", TestPaths.Stories260KBin, "--tokenizer", TestPaths.Stories260KTokenizerBin,
            "--max-tokens", "80", "--temperature", "0");
        Assert.Equal(0, bin.ExitCode);
        Assert.Equal(gguf.Stdout, bin.Stdout);
    }

    [Fact]
    public void Prompt_longer_than_the_context_is_refused_with_one_line()
    {
        var dir = TestPaths.NewTempDir();
        var path = RandomLlamaGguf.Write(Path.Combine(dir, "short.gguf"), new RandomLlamaConfig(Layers: 1, Dim: 32, Heads: 4, KvHeads: 2, FfnDim: 64, Vocab: 300, Context: 16));
        var r = CliProcess.Run("generate", "--model", path, "--prompt", string.Join(' ', Enumerable.Repeat("the cat sat", 20)), "--max-tokens", "4");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("context", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("wrong-magic")]
    [InlineData("truncated")]
    [InlineData("hub-id")]
    public void Bad_model_paths_give_one_clear_line(string kind)
    {
        var dir = TestPaths.NewTempDir();
        string path = kind switch
        {
            "missing" => Path.Combine(dir, "nope.gguf"),
            "wrong-magic" => Write(Path.Combine(dir, "bad.gguf"), "GGML this is not gguf"u8.ToArray()),
            "truncated" => Write(Path.Combine(dir, "cut.gguf"), File.ReadAllBytes(TestPaths.Stories260KGguf)[..5000]),
            _ => "someorg/somemodel",
        };
        var r = CliProcess.Run("info", "--model", path);
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.StartsWith("error: ", line);
        string expected = kind switch { "missing" => "not found", "wrong-magic" => "magic", "truncated" => "past the end", _ => "hub" };
        Assert.Contains(expected, line, StringComparison.OrdinalIgnoreCase);
    }

    private static string Write(string path, byte[] bytes)
    {
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
