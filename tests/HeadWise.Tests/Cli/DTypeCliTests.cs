using HeadWise.Formats.Gguf;
using HeadWise.Tests.Fixtures;

namespace HeadWise.Tests.Cli;

/// <summary>--dtype on every verb that loads a model, and the bad-input cases: an unknown value, and a bf16 request
/// for a model whose tensors cannot be held in bf16. Each is one "error:" line and exit code 1.</summary>
public class DTypeCliTests
{
    private static readonly string Out = TestPaths.NewTempDir("dtype");

    public static TheoryData<string[]> Verbs => new()
    {
        new[] { "info" },
        new[] { "generate", "--max-tokens", "2" },
        new[] { "attention", "--prompt", "a", "--layer", "0", "--png", Path.Combine(Out, "a.png") },
        new[] { "attribute", "--prompt", "a", "--target", "b" },
        new[] { "profile", "--out", Path.Combine(Out, "p") },
        new[] { "bench", "--task", "copy" },
        new[] { "sweep", "--task", "copy", "--policies", "full", "--budgets", "1", "--out", Path.Combine(Out, "s") },
        new[] { "embed", "--text", "a" },
    };

    [Theory, MemberData(nameof(Verbs))]
    public void Every_verb_refuses_an_unknown_dtype_with_one_line(string[] verb)
    {
        var r = CliProcess.Run([.. verb, "--model", TestPaths.Stories260KGguf, "--dtype", "q3"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("error: --dtype 'q3' is not supported (f32, bf16)", r.Stderr.Trim());
    }

    [Fact]
    public void Float16_compute_is_refused_with_the_reason()
    {
        var r = CliProcess.Run("info", "--model", TestPaths.Stories260KGguf, "--dtype", "f16");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: --dtype 'f16' is not supported (f32, bf16)", r.Stderr.Trim());
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void Bf16_is_refused_for_a_tensor_beyond_its_range_and_f32_loads_it()
    {
        var path = RandomLlamaGguf.Write(Path.Combine(TestPaths.NewTempDir(), "big.gguf"), new RandomLlamaConfig(Layers: 1));
        long at;
        using (var f = GgufFile.Open(path)) at = f.DataOffset + (long)f.GetTensor("blk.0.attn_q.weight").Offset;
        using (var fs = new FileStream(path, FileMode.Open)) { fs.Position = at + 4; fs.Write(BitConverter.GetBytes(3.4e38f)); }

        var bf16 = CliProcess.Run("info", "--model", path, "--dtype", "bf16");
        Assert.Equal(1, bf16.ExitCode);
        Assert.StartsWith("error: ", bf16.Stderr);
        Assert.Contains("blk.0.attn_q.weight", bf16.Stderr);
        Assert.Contains("--dtype f32", bf16.Stderr);
        Assert.Single(bf16.Stderr.Trim().Split('\n'));
        Assert.Equal(0, CliProcess.Run("info", "--model", path, "--dtype", "f32").ExitCode);
    }

    [Fact]
    public void Info_reports_the_compute_dtype_and_weight_bytes()
    {
        var f32 = CliProcess.Run("info", "--model", TestPaths.Stories260KGguf);
        var bf16 = CliProcess.Run("info", "--model", TestPaths.Stories260KGguf, "--dtype", "bf16");
        Assert.Contains("compute dtype    f32", f32.Stdout);
        Assert.Contains("compute dtype    bf16", bf16.Stdout);
    }
}
