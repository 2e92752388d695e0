using System.Diagnostics;
using System.Text.Json.Nodes;
using HeadWise.Formats.Gguf;

namespace HeadWise.Tests.Hostile;

/// <summary>
/// Issue 22's failures, each made as the hostile input and run through the real CLI: one line `error: ...`, exit code 1,
/// no hang, no unbounded memory, no terminal control characters. (Every run gets a 1 GB managed-heap cap and a time limit,
/// so the red runs of these tests ended quickly instead of eating the machine.)
/// </summary>
public class HostileInputTests
{
    private static string Stories => TestPaths.Stories260KGguf;

    // --- unbounded memory: a llama2.c header claiming 2^31-1 layers ---

    [Fact]
    public void Llama2c_header_with_two_billion_layers_is_refused_before_anything_is_sized_by_it()
    {
        var path = HostileFiles.Llama2cHeader(64, 172, int.MaxValue, 8, 4, 512, 512);
        var r = HostileCli.Run("info", "--model", path);
        HostileCli.AssertOneLineError(r, "layers");
        Assert.True(r.PeakRssBytes < 600L << 20, $"peak RSS {r.PeakRssBytes >> 20} MiB for a 28-byte file");
    }

    // --- files that are not regular files: FIFOs hang, /dev/zero never ends ---

    public static TheoryData<string> NotRegularPlaces => new() { "model", "config.json", "tokenizer.json", "tokenizer.bin" };

    [Theory]
    [MemberData(nameof(NotRegularPlaces))]
    public void A_fifo_anywhere_a_file_is_read_is_refused_not_waited_on(string place)
    {
        var dir = TestPaths.NewTempDir("hostile");
        var fifo = Path.Combine(dir, place == "model" ? "model.gguf" : place);
        string[] args = place switch
        {
            "model" => ["info", "--model", fifo],
            "config.json" => ["info", "--model", HostileFiles.TestbedFolder(dir: Path.Combine(dir, "hf")) is var hf && Replace(Path.Combine(hf, "config.json")) ? hf : ""],
            "tokenizer.json" => ["info", "--model", HostileFiles.TestbedFolder(dir: Path.Combine(dir, "hf")) is var hf2 && Replace(Path.Combine(hf2, "tokenizer.json")) ? hf2 : ""],
            _ => ["info", "--model", TestPaths.Stories260KBin, "--tokenizer", fifo],
        };
        if (place is "model" or "tokenizer.bin") MakeFifo(fifo);
        var r = HostileCli.Run(args, timeoutSeconds: 60);
        HostileCli.AssertOneLineError(r, "FIFO");
    }

    [Theory]
    [InlineData("model")]
    [InlineData("tokenizer")]
    [InlineData("config.json")]
    [InlineData("tokenizer.json")]
    public void Dev_zero_is_refused_as_a_device(string place)
    {
        string[] args = place switch
        {
            "model" => ["info", "--model", "/dev/zero"],
            "tokenizer" => ["info", "--model", TestPaths.Stories260KBin, "--tokenizer", "/dev/zero"],
            // In a Hugging Face folder, as a symlink (the cache's layout): the kind is the link's target's.
            _ => ["info", "--model", LinkedToDevZero(HostileFiles.TestbedFolder(), place)],
        };
        var r = HostileCli.Run(args);
        HostileCli.AssertOneLineError(r, "device");
    }

    private static string LinkedToDevZero(string dir, string file)
    {
        File.Delete(Path.Combine(dir, file));
        File.CreateSymbolicLink(Path.Combine(dir, file), "/dev/zero");
        return dir;
    }

    // --- tokenizer.json pre-tokenizer regexes: empty, not a string, catastrophic ---

    [Theory]
    [InlineData("empty")]
    [InlineData("number")]
    [InlineData("catastrophic")]
    public void Pre_tokenizer_regexes_from_files_are_refused_or_time_out(string kind)
    {
        JsonNode pattern = kind switch { "empty" => JsonValue.Create(""), "number" => JsonValue.Create(42), _ => JsonValue.Create("(a+)+$") };
        var dir = HostileFiles.TestbedFolder(editTokenizer: t => t["pre_tokenizer"] = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = pattern }, ["behavior"] = "Isolated", ["invert"] = false },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false }),
        });
        var r = HostileCli.Run(["generate", "--model", dir, "--prompt", new string('a', 40) + "!", "--max-tokens", "2", "--temperature", "0"], timeoutSeconds: 60);
        HostileCli.AssertOneLineError(r, kind == "catastrophic" ? "regex" : "pattern");
    }

    // --- numbers from files: out of range, not finite ---

    public static TheoryData<string, object, string> BadGgufNumbers => new()
    {
        { "llama.attention.layer_norm_rms_epsilon", float.NaN, "epsilon" },
        { "llama.attention.layer_norm_rms_epsilon", -1f, "epsilon" },
        { "llama.rope.freq_base", float.PositiveInfinity, "theta" },
        { "llama.context_length", uint.MaxValue, "context_length" },
        { "llama.embedding_length", 1L << 31, "embedding_length" },
    };

    [Theory]
    [MemberData(nameof(BadGgufNumbers))]
    public void Gguf_numbers_out_of_range_are_refused(string key, object value, string named)
    {
        var path = HostileFiles.StoriesGguf(m => m[key] = value);
        HostileCli.AssertOneLineError(HostileCli.Run("info", "--model", path), named);
    }

    /// <summary>The 1.7 GB and 5 s for `info` on a 1.2 MB model: RoPE tables are built for what a run reaches, not the claimed context.</summary>
    [Fact]
    public void A_claimed_2_to_the_24_token_context_builds_no_rope_table_for_it()
    {
        var path = HostileFiles.StoriesGguf(m => m["llama.context_length"] = (uint)(1 << 24));
        long budget = 2 * new FileInfo(path).Length + (300L << 20);
        foreach (var args in new[] { new[] { "info", "--model", path }, ["generate", "--model", path, "--prompt", "Once", "--max-tokens", "3", "--temperature", "0"] })
        {
            var r = HostileCli.Run(args, timeoutSeconds: 120);
            Assert.True(r.ExitCode == 0, $"{args[0]}: exit {r.ExitCode}: {r.Stderr}");
            Assert.True(r.PeakRssBytes < budget, $"{args[0]}: peak RSS {r.PeakRssBytes >> 20} MiB, budget {budget >> 20} MiB");
        }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(float.NaN)]
    [InlineData(-2f)]
    public void Rope_scaling_factor_out_of_range_is_refused(float factor)
    {
        var path = HostileFiles.StoriesGguf(m => { m["llama.rope.scaling.type"] = "linear"; m["llama.rope.scaling.factor"] = factor; });
        HostileCli.AssertOneLineError(HostileCli.Run("info", "--model", path), "scaling factor");
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1e400")]
    public void Config_epsilon_out_of_range_is_refused(string raw)
    {
        var dir = HostileFiles.TestbedFolder();
        var config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"rms_norm_eps\": 1E-05", $"\"rms_norm_eps\": {raw}"));
        HostileCli.AssertOneLineError(HostileCli.Run("info", "--model", dir), "eps");
    }

    [Fact]
    public void Nan_weights_give_an_error_not_a_sampler_crash_or_silent_garbage()
    {
        var path = HostileFiles.StoriesGguf(_ => { }, t => t.Name == "output_norm.weight"
            ? t with { Data = Enumerable.Repeat(float.NaN, t.Data.Length).ToArray() } : t);
        foreach (var temperature in new[] { "0.8", "0" })
            HostileCli.AssertOneLineError(HostileCli.Run("generate", "--model", path, "--max-tokens", "5", "--temperature", temperature), "NaN");
    }

    [Fact]
    public void A_tokenizer_larger_than_the_gguf_embedding_is_refused()
    {
        var path = HostileFiles.StoriesGguf(m =>
        {
            var tokens = (string[])m["tokenizer.ggml.tokens"];
            m["tokenizer.ggml.tokens"] = tokens.Concat(["extra1", "extra2"]).ToArray();
            m["tokenizer.ggml.scores"] = ((float[])m["tokenizer.ggml.scores"]).Concat([0f, 0f]).ToArray();
            m["tokenizer.ggml.token_type"] = ((int[])m["tokenizer.ggml.token_type"]).Concat([1, 1]).ToArray();
            m["llama.vocab_size"] = (uint)tokens.Length;
        });
        HostileCli.AssertOneLineError(HostileCli.Run("info", "--model", path), "vocabulary");
    }

    // --- malformed inputs that used to end as "internal error", exit 2 ---

    [Fact]
    public void Safetensors_header_with_invalid_utf8_is_a_file_error()
    {
        var dir = HostileFiles.TestbedFolder();
        var st = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(st);
        int at = bytes.AsSpan(8).IndexOf("\"model."u8) + 8 + 1;
        bytes[at] = 0xFF;  // the first byte of a tensor name
        File.WriteAllBytes(st, bytes);
        HostileCli.AssertOneLineError(HostileCli.Run("info", "--model", dir), "model.safetensors");
    }

    public static TheoryData<string, string> BadTokenizerJson => new()
    {
        { "added_tokens without id", "added_tokens" },
        { "merges as numbers", "merges" },
        { "merges as an object", "merges" },
        { "an empty merge", "merge 0" }, // tokenizer-json's 15-minute fuzz run: IndexOf past the end of "" (3 crashes)
        { "post_processor missing fields", "post_processor" },
        { "pre_tokenizer Sequence without parts", "pretokenizers" },
    };

    [Theory]
    [MemberData(nameof(BadTokenizerJson))]
    public void Malformed_tokenizer_json_fields_are_refused_by_name(string kind, string named)
    {
        var dir = HostileFiles.TestbedFolder(editTokenizer: t =>
        {
            switch (kind)
            {
                case "added_tokens without id": t["added_tokens"]![0]!.AsObject().Remove("id"); break;
                case "merges as numbers": t["model"]!["merges"] = new JsonArray(new JsonArray(1, 2)); break;
                case "merges as an object": t["model"]!["merges"] = new JsonObject { ["a"] = "b" }; break;
                case "an empty merge": t["model"]!["merges"]![0] = ""; break;
                case "post_processor missing fields": t["post_processor"] = new JsonObject { ["type"] = "BertProcessing" }; break;
                default: t["pre_tokenizer"] = new JsonObject { ["type"] = "Sequence" }; break;
            }
        });
        HostileCli.AssertOneLineError(HostileCli.Run("info", "--model", dir), named);
    }

    // --- --kv-params numbers ---

    [Theory]
    [InlineData("delta", "recent=NaN")]
    [InlineData("duo", "threshold=NaN")]
    [InlineData("pyramidkv", "beta=Infinity")]
    public void Kv_params_that_are_not_finite_are_refused(string policy, string param)
    {
        var atlas = Path.Combine(HostileFiles.RepoRoot(), "docs", "testbed-sweep", "atlas", "atlas.json");
        var r = HostileCli.Run("generate", "--model", HostileFiles.Testbed("model.gguf"), "--max-tokens", "2", "--temperature", "0",
            "--policy", policy, "--budget", "0.5", "--atlas", atlas, "--kv-params", param);
        HostileCli.AssertOneLineError(r, param.Split('=')[0]);
    }

    // --- one line, always ---

    [Fact]
    public void Strings_from_files_cannot_split_the_error_line_or_drive_the_terminal()
    {
        var path = HostileFiles.StoriesGguf(m => m["general.architecture"] = "llama\n\u001b[2J\u001b[Hpwned" + new string('x', 5000));
        var line = HostileCli.AssertOneLineError(HostileCli.Run("info", "--model", path), "architecture");
        Assert.DoesNotContain('\u001b', line);
        Assert.True(line.Length < 1000, $"the error line is {line.Length} characters");
    }

    /// <summary>The other strings from files: a dtype, a tensor name and a path, each with a newline and an ANSI clear-screen.</summary>
    [Theory]
    [InlineData("dtype")]
    [InlineData("tensor name")]
    [InlineData("path")]
    public void Dtypes_tensor_names_and_paths_are_quoted_with_control_characters_escaped(string kind)
    {
        const string Hostile = "\n\u001b[2Jpwned";
        string model;
        if (kind == "path") model = Path.Combine(TestPaths.NewTempDir("hostile"), "no" + Hostile, "model.gguf");
        else
        {
            model = HostileFiles.TestbedFolder();
            // One tensor, raw: an unsupported dtype, or a name whose data runs past the file (both errors name it).
            var header = kind == "dtype"
                ? new JsonObject { ["model.norm.weight"] = new JsonObject { ["dtype"] = "F3" + Hostile, ["shape"] = new JsonArray(4), ["data_offsets"] = new JsonArray(0, 16) } }
                : new JsonObject { ["model.norm.weight" + Hostile] = new JsonObject { ["dtype"] = "F32", ["shape"] = new JsonArray(4), ["data_offsets"] = new JsonArray(0, 160) } };
            var json = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
            File.WriteAllBytes(Path.Combine(model, "model.safetensors"), [.. BitConverter.GetBytes((long)json.Length), .. json, .. new byte[16]]);
        }
        var line = HostileCli.AssertOneLineError(HostileCli.Run("info", "--model", model), "pwned");
        Assert.DoesNotContain('\u001b', line);
        Assert.Contains("\\n", line);
    }

    [Theory]
    [InlineData("generate", "--max-tokens", "abc")]
    [InlineData("generate", "--no-such-option")]
    [InlineData("no-such-verb")]
    public void Parse_errors_are_one_line_pointing_at_help(params string[] args)
    {
        var r = HostileCli.Run(args);
        HostileCli.AssertOneLineError(r, "--help");
        Assert.DoesNotContain("Usage:", r.Stdout + r.Stderr);
    }

    private static bool Replace(string path)
    {
        File.Delete(path);
        MakeFifo(path);
        return true;
    }

    private static void MakeFifo(string path)
    {
        using var p = Process.Start("mkfifo", [path])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
