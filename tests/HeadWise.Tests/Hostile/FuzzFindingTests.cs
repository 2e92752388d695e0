using HeadWise.Formats.Safetensors;

namespace HeadWise.Tests.Hostile;

/// <summary>
/// Inputs the fuzzers found that crashed a reader, committed as found (Hostile/findings/), each now a one-line error.
/// </summary>
public class FuzzFindingTests
{
    private static string Finding(string name) => Path.Combine(AppContext.BaseDirectory, "Hostile", "findings", name);

    /// <summary>
    /// shard-index, 49 s into its first run: an escaped lone surrogate ("\ud800") in a weight_map value passed the
    /// UTF-8 check and threw InvalidOperationException when the string was read. Every JSON reader had the hole.
    /// </summary>
    [Fact]
    public void A_lone_surrogate_escape_in_a_shard_index_is_a_file_error()
    {
        var dir = TestPaths.NewTempDir("finding");
        var index = Path.Combine(dir, "model.safetensors.index.json");
        File.Copy(Finding("shard-index-lone-surrogate.json"), index);
        var e = Assert.ThrowsAny<HeadWiseException>(() => SafetensorsShards.Open(index));
        Assert.Contains("not valid text", e.Message);
        File.Copy(HostileFiles.Testbed("config.json"), Path.Combine(dir, "config.json"));
        File.Copy(HostileFiles.Testbed("tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        HostileCli.AssertOneLineError(HostileCli.Run("info", "--model", dir), "not valid text");
    }

    /// <summary>
    /// llama2c, 10 s into its 15-minute run (5 crashes, all this one): a header with n_heads 0 was refused, but the
    /// refusal printed the header record, whose head size divides by n_heads: DivideByZeroException.
    /// </summary>
    [Fact]
    public void A_llama2c_header_with_zero_heads_is_a_file_error()
    {
        var path = Path.Combine(TestPaths.NewTempDir("finding"), "model.bin");
        File.Copy(Finding("llama2c-zero-heads.bin"), path);
        var e = Assert.ThrowsAny<HeadWiseException>(() => HeadWise.Formats.Llama2c.Llama2cCheckpoint.Open(path));
        Assert.Contains("non-positive dimension", e.Message);
        HostileCli.AssertOneLineError(HostileCli.Run("info", "--model", path, "--tokenizer", TestPaths.Stories260KTokenizerBin), "non-positive dimension");
    }

    /// <summary>
    /// shard-index, CI run of 2026-11-30: a shard name ending in an escaped NUL ("...safetensors\u0000") passed the plain
    /// file name check, statx read the name up to the NUL (an existing file), and .NET's open threw ArgumentException.
    /// </summary>
    [Fact]
    public void A_shard_name_with_a_nul_character_is_a_file_error()
    {
        var dir = TestPaths.NewTempDir("finding");
        File.WriteAllBytes(Path.Combine(dir, "a.safetensors"), []);
        var index = Path.Combine(dir, "model.safetensors.index.json");
        File.WriteAllText(index, """{"weight_map": {"x.weight": "a.safetensors\u0000"}}""");
        var e = Assert.ThrowsAny<HeadWiseException>(() => SafetensorsShards.Open(index));
        Assert.Contains("is missing", e.Message);
    }

    /// <summary>
    /// safetensors, CI run of 2026-11-30: a data_offsets entry that is a string ("data_offsets":["8",16]) reached
    /// JsonElement.TryGetInt64, which throws InvalidOperationException on a non-number instead of returning false.
    /// </summary>
    [Theory]
    [InlineData("[\"0\",8]")]
    [InlineData("[0,null]")]
    [InlineData("[0,[8]]")]
    public void A_data_offset_that_is_not_a_number_is_a_file_error(string offsets)
    {
        var path = Path.Combine(TestPaths.NewTempDir("finding"), "model.safetensors");
        var header = System.Text.Encoding.UTF8.GetBytes($$$"""{"w":{"dtype":"F32","shape":[2],"data_offsets":{{{offsets}}}}}""");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((long)header.Length), .. header, .. new byte[8]]);
        var e = Assert.ThrowsAny<HeadWiseException>(() => SafetensorsFile.Open(path));
        Assert.Contains("data_offsets must be non-negative integers", e.Message);
    }

    [Fact]
    public void A_lone_surrogate_escape_in_config_json_is_a_file_error()
    {
        var dir = HostileFiles.TestbedFolder(editConfig: c => c["_name_or_path"] = "x");
        var config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"_name_or_path\":\"x\"", "\"_name_or_path\":\"\\ud800\""));
        HostileCli.AssertOneLineError(HostileCli.Run("info", "--model", dir), "not valid text");
    }
}
