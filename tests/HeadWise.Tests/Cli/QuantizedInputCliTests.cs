using HeadWise.Formats.Gguf;
using HeadWise.Tests.Fixtures;
using static HeadWise.Tests.Formats.GgufTestFiles;

namespace HeadWise.Tests.Cli;

/// <summary>
/// Issue 17's bad quantized input through the real CLI, on a real model file (a random Llama, 128-wide rows) with one
/// tensor's type patched: a type number GGUF does not define, a defined type HeadWise does not read, and a block type
/// whose block (256 values) does not divide the 128-value row. Each is one `error:` line naming the problem, exit 1.
/// (--dtype with an unknown value and a bf16 request for an out-of-range tensor: <see cref="DTypeCliTests"/>.)
/// </summary>
public class QuantizedInputCliTests
{
    private static readonly Lazy<byte[]> Model = new(() => File.ReadAllBytes(
        RandomLlamaGguf.Write(Path.Combine(TestPaths.NewTempDir("badquant"), "model.gguf"), new RandomLlamaConfig(Layers: 1))));

    public static TheoryData<uint, string[]> Cases => new()
    {
        { 99u, ["attn_q.weight", "unknown tensor type", "99"] },
        { (uint)GgmlType.MXFP4, ["attn_q.weight", "MXFP4", "cannot read"] },
        { (uint)GgmlType.Q4_K, ["attn_q.weight", "block"] },
    };

    [Theory, MemberData(nameof(Cases))]
    public void A_tensor_type_HeadWise_cannot_read_is_one_error_line(uint type, string[] fragments)
    {
        var bytes = Model.Value.ToArray();
        PutU32(bytes, FindTensor(bytes, "blk.0.attn_q.weight").Type, type);
        var path = Save(bytes);
        var r = CliProcess.Run("info", "--model", path);
        Assert.Equal(1, r.ExitCode);
        var lines = r.Stderr.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        foreach (var f in fragments) Assert.Contains(f, lines[0], StringComparison.OrdinalIgnoreCase);
    }
}
