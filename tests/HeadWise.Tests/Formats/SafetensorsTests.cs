using Xunit;
using System.Buffers.Binary;
using System.Text;
using HeadWise.Formats.Safetensors;

namespace HeadWise.Tests.Formats;

public class SafetensorsTests
{
    /// <summary>An independent writer: raw header-length bytes + JSON text + data, exactly as the format spec describes.</summary>
    internal static string WriteRaw(string json, byte[] data, string? dir = null, long? headerLengthOverride = null)
    {
        var path = Path.Combine(dir ?? TestPaths.NewTempDir("st"), "model.safetensors");
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, headerLengthOverride ?? header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static float[] Read(ISafetensorsSource f, string name)
    {
        var dst = new float[f.Shape(name).Aggregate(1L, (a, b) => a * b)];
        f.ReadFloats(name, dst);
        return dst;
    }

    private static readonly float[] Values = [0f, 1f, -2.5f, 3.14159265f, 1e-3f, -65504f, 1.00390625f, 1.01171875f, 123456.789f, -0.333333f, 7e-8f, 42f];

    [Fact]
    public void RoundTripF32IsExact()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "f32.safetensors");
        SafetensorsWriter.Write(path, [("w", [3, 4], "F32", Values)], new Dictionary<string, string> { ["format"] = "pt" });
        using var f = SafetensorsFile.Open(path);
        Assert.Equal(new long[] { 3, 4 }, f.Shape("w"));
        Assert.Equal("F32", f.Info("w").DType);
        Assert.Equal("pt", f.Metadata["format"]);
        Assert.Equal(Values, Read(f, "w"));
    }

    [Fact]
    public void RoundTripF16MatchesSystemHalf()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "f16.safetensors");
        SafetensorsWriter.Write(path, [("w", [12], "F16", Values)]);
        using var f = SafetensorsFile.Open(path);
        Assert.Equal(Values.Select(v => (float)(Half)v).ToArray(), Read(f, "w"));
        // The bytes on disk are IEEE half bits, little-endian.
        var bytes = File.ReadAllBytes(path);
        var dataStart = 8 + BinaryPrimitives.ReadInt64LittleEndian(bytes);
        Assert.Equal(BitConverter.HalfToUInt16Bits((Half)(-2.5f)), BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan((int)dataStart + 4)));
    }

    [Fact]
    public void RoundTripBF16KeepsTopSixteenBitsWithRoundToNearestEven()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "bf16.safetensors");
        // Exactly representable in bfloat16 (8 significant bits) ...
        float[] exact = [1f, -2.5f, 0.15625f, 3.0f * (1 << 20), 0f];
        exact[4] = BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(-1.5e-3f) & 0xFFFF0000);
        // ... and two ties: 1 + 2^-8 rounds down to 1 (even), 1 + 3*2^-8 rounds up to 1 + 2^-6 (even).
        float[] data = [.. exact, 1.00390625f, 1.01171875f];
        SafetensorsWriter.Write(path, [("w", [data.Length], "BF16", data)]);
        using var f = SafetensorsFile.Open(path);
        Assert.Equal([.. exact, 1f, 1.015625f], Read(f, "w"));
    }

    [Fact]
    public void ReadsAFileWrittenByHand()
    {
        var data = new List<byte>();
        foreach (var v in new[] { 1f, 2f, -3f, 4.5f }) data.AddRange(BitConverter.GetBytes(v));   // a: F32 [2,2]
        foreach (ushort h in new ushort[] { 0x3C00, 0xC000, 0x3800 }) data.AddRange(BitConverter.GetBytes(h)); // b: F16 1, -2, 0.5
        foreach (ushort h in new ushort[] { 0x3F80, 0xC040 }) data.AddRange(BitConverter.GetBytes(h)); // c: BF16 1, -3
        var json = """
            {"__metadata__":{"format":"pt"},
             "c":{"dtype":"BF16","shape":[2],"data_offsets":[22,26]},
             "a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},
             "b":{"dtype":"F16","shape":[3],"data_offsets":[16,22]}}
            """;
        using var f = SafetensorsFile.Open(WriteRaw(json, [.. data]));
        Assert.Equal(new[] { "a", "b", "c" }, f.Names.Order());
        Assert.Equal(new[] { 1f, 2f, -3f, 4.5f }, Read(f, "a"));
        Assert.Equal(new[] { 1f, -2f, 0.5f }, Read(f, "b"));
        Assert.Equal(new[] { 1f, -3f }, Read(f, "c"));
    }

    [Fact]
    public void ShardedCheckpointReadsEveryTensorFromItsShard()
    {
        var dir = TestPaths.NewTempDir("shards");
        var tensors = Enumerable.Range(0, 5)
            .Select(i => ($"t{i}", new long[] { 2, 3 }, "F32", (ReadOnlyMemory<float>)Enumerable.Range(0, 6).Select(j => i * 10f + j).ToArray()))
            .ToList();
        var index = SafetensorsWriter.WriteSharded(dir, tensors, 3);
        Assert.Equal(3, Directory.GetFiles(dir, "model-*-of-00003.safetensors").Length);
        using var s = SafetensorsShards.Open(index);
        Assert.Equal(3, s.ShardPaths.Count);
        for (var i = 0; i < 5; i++) Assert.Equal(Enumerable.Range(0, 6).Select(j => i * 10f + j), Read(s, $"t{i}"));
    }

    [Fact]
    public void ShardNamedInIndexButAbsentIsNamed()
    {
        var dir = TestPaths.NewTempDir("shards");
        var index = SafetensorsWriter.WriteSharded(dir, [("a", [1], "F32", new[] { 1f }), ("b", [1], "F32", new[] { 2f })], 2);
        File.Delete(Path.Combine(dir, "model-00002-of-00002.safetensors"));
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsShards.Open(index));
        Assert.Contains("model-00002-of-00002.safetensors", e.Message);
        Assert.Contains("missing", e.Message);
    }

    private static readonly byte[] Sixteen = new byte[16];

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}}""", 16, "out of order")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}}""", 16, "overlap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}""", 16, "gap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}""", 16, "past the end")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}""", 16, "needs 12 bytes")]
    [InlineData("""{"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,16]}}""", 16, "needs 8 bytes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}""", 16, "negative")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}""", 16, "overflow")]
    [InlineData("""{"a":{"dtype":"Q4_K","shape":[4],"data_offsets":[0,16]}}""", 16, "unsupported dtype")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 16, "trailing")]
    [InlineData("""{"a": {"dtype":"F32",""", 16, "not valid JSON")]
    public void BadHeaderIsRejectedNamingTheProblem(string json, int dataBytes, string problem)
    {
        var path = WriteRaw(json, new byte[dataBytes]);
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.Open(path));
        Assert.Contains(problem, e.Message);
        Assert.Equal(path, e.Path);
        if (problem != "not valid JSON" && problem != "trailing" && problem != "gap" && problem != "overlap") Assert.Contains("'a'", e.Message);
    }

    [Theory]
    [InlineData(1000L, "past the end of the file")]
    [InlineData(-5L, "absurd")]
    [InlineData(long.MaxValue, "absurd")]
    public void HeaderLengthOutOfRangeIsRejected(long headerLength, string problem)
    {
        var path = WriteRaw("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", Sixteen, headerLengthOverride: headerLength);
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.Open(path));
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void IntegerTensorValidatesButCannotBeReadAsFloats()
    {
        var path = WriteRaw("""{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}""", Sixteen);
        using var f = SafetensorsFile.Open(path);
        var e = Assert.Throws<InvalidModelFileException>(() => f.ReadFloats("ids", new float[2]));
        Assert.Contains("unsupported dtype I64", e.Message);
        Assert.Contains("'ids'", e.Message);
    }
}
