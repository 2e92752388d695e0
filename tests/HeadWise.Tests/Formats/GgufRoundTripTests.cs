using Xunit;
using HeadWise.Formats.Gguf;
using static HeadWise.Tests.Formats.GgufTestFiles;

namespace HeadWise.Tests.Formats;

public class GgufRoundTripTests
{
    private static readonly KeyValuePair<string, object>[] AllTypes =
    [
        new("t.u8", (byte)200), new("t.i8", (sbyte)-100), new("t.u16", (ushort)60000), new("t.i16", (short)-30000),
        new("t.u32", 4000000000u), new("t.i32", -2000000000), new("t.f32", 3.25f), new("t.bool", true), new("t.boolf", false),
        new("t.str", "héllo ✓"), new("t.empty", ""), new("t.u64", ulong.MaxValue), new("t.i64", long.MinValue), new("t.f64", Math.PI),
        new("a.u8", new byte[] { 1, 255 }), new("a.i8", new sbyte[] { -1, 127 }), new("a.u16", new ushort[] { 7, 65535 }),
        new("a.i16", new short[] { -7, 32767 }), new("a.u32", new uint[] { 9, uint.MaxValue }), new("a.i32", new[] { -9, 0, 9 }),
        new("a.f32", new[] { 1.5f, float.NegativeInfinity }), new("a.bool", new[] { true, false, true }),
        new("a.str", new[] { "x", "", "日本" }), new("a.u64", new[] { ulong.MaxValue }), new("a.i64", new[] { long.MinValue, 5L }),
        new("a.f64", new[] { double.Epsilon, -0.5 }), new("a.emptystr", Array.Empty<string>()), new("a.emptyint", Array.Empty<int>()),
        new("a.nested", new object[] { new[] { 1, 2 }, new[] { "p", "q" }, new object[] { new[] { 0.5 } }, Array.Empty<byte>() }),
    ];

    private static string WriteTemp(IEnumerable<KeyValuePair<string, object>> meta, IEnumerable<GgufTensorData> tensors, int alignment = 32)
    {
        var path = Path.Combine(TestPaths.NewTempDir("gguf"), "rt.gguf");
        GgufWriter.Write(path, meta, tensors, alignment);
        return path;
    }

    [Fact]
    public void EveryMetadataTypeRoundTrips()
    {
        using var f = GgufFile.Open(WriteTemp(AllTypes, []));
        Assert.Equal(3u, f.Version);
        Assert.Equal(AllTypes.Length, f.Metadata.Count);
        foreach (var (key, expected) in AllTypes)
        {
            var actual = f.Metadata[key];
            Assert.Equal(expected.GetType(), actual.GetType());
            Assert.Equal(expected, actual); // xunit compares arrays (and nested object[]) element-wise
        }
        Assert.Empty(f.Tensors);
    }

    [Fact]
    public void TypedGetters()
    {
        using var f = GgufFile.Open(WriteTemp(AllTypes, []));
        Assert.Equal("héllo ✓", f.GetString("t.str"));
        Assert.Equal(200, f.GetInteger("t.u8"));
        Assert.Equal(-30000, f.GetInteger("t.i16"));
        Assert.Equal(4000000000, f.GetInteger("t.u32"));
        Assert.Equal(long.MinValue, f.GetInteger("t.i64"));
        Assert.Equal(3.25, f.GetNumber("t.f32"));
        Assert.Equal(-2000000000.0, f.GetNumber("t.i32"));
        Assert.True(f.GetBool("t.bool"));
        Assert.Equal(new[] { -9, 0, 9 }, f.GetArray<int>("a.i32"));
        Assert.Equal(new[] { 9L, uint.MaxValue }, f.GetArray<long>("a.u32"));
        Assert.Equal(new[] { 1.5, double.NegativeInfinity }, f.GetArray<double>("a.f32"));
        Assert.True(f.TryGet<uint>("t.u32", out var u) && u == 4000000000u);
        Assert.False(f.TryGet<int>("t.u32", out _));
        Assert.False(f.TryGetInteger("nope", out _));

        Assert.Contains("'nope' is missing", Assert.Throws<InvalidModelFileException>(() => f.GetString("nope")).Message);
        Assert.Contains("'t.i32'", Assert.Throws<InvalidModelFileException>(() => f.GetString("t.i32")).Message);
        Assert.Contains("'t.str'", Assert.Throws<InvalidModelFileException>(() => f.GetInteger("t.str")).Message);
        Assert.Contains("'t.u64'", Assert.Throws<InvalidModelFileException>(() => f.GetInteger("t.u64")).Message);
        Assert.Contains("'t.f32'", Assert.Throws<InvalidModelFileException>(() => f.GetInteger("t.f32")).Message);
        Assert.Contains("'a.str'", Assert.Throws<InvalidModelFileException>(() => f.GetArray<int>("a.str")).Message);
        Assert.Contains("'a.f32'", Assert.Throws<InvalidModelFileException>(() => f.GetArray<int>("a.f32")).Message);
        Assert.Contains("'a.u64'", Assert.Throws<InvalidModelFileException>(() => f.GetArray<int>("a.u64")).Message);
        Assert.Contains("general.architecture", Assert.Throws<InvalidModelFileException>(() => f.Architecture).Message);
    }

    private static float[] Samples()
    {
        var rng = new Random(42);
        var v = new List<float> { 0f, -0f, 1f, -1f, 0.1f, 65504f, 70000f, 1e-8f, 6e-5f, float.PositiveInfinity, float.NegativeInfinity, 3.4e38f, 1.00390625f, 1.01171875f };
        for (var i = 0; i < 1000; i++) v.Add((float)(rng.NextDouble() * 2 - 1) * MathF.Pow(10, rng.Next(-6, 6)));
        while (v.Count % 64 != 0) v.Add(0.5f);
        return v.ToArray();
    }

    /// <summary>Reference bf16 rounding done on the integer bits, independent of the writer's code path.</summary>
    private static float Bf16Reference(float x)
    {
        var bits = BitConverter.SingleToUInt32Bits(x);
        var upper = bits >> 16;
        var lower = bits & 0xFFFF;
        if (lower > 0x8000 || (lower == 0x8000 && (upper & 1) == 1)) upper++;
        return BitConverter.UInt32BitsToSingle(upper << 16);
    }

    [Fact]
    public void TensorsRoundTripInEveryWritableType()
    {
        var x = Samples();
        var path = WriteTemp([new("general.architecture", "test")],
        [
            new GgufTensorData("f32", [64, x.Length / 64], GgmlType.F32, x),
            new GgufTensorData("f16", [x.Length], GgmlType.F16, x),
            new GgufTensorData("bf16", [16, 4, x.Length / 64], GgmlType.BF16, x),
            new GgufTensorData("odd", [3], GgmlType.F16, new[] { 1f, 2f, 3f }), // forces padding before the next tensor
            new GgufTensorData("after", [5], GgmlType.F32, new[] { 9f, 8f, 7f, 6f, 5f }),
        ], alignment: 64);
        using var f = GgufFile.Open(path);
        Assert.Equal(64, f.Alignment);
        Assert.Equal(64u, f.Metadata["general.alignment"]);
        Assert.Equal(0, f.DataOffset % 64);

        var t32 = f.GetTensor("f32");
        Assert.Equal(new long[] { 64, x.Length / 64 }, t32.Shape);
        Assert.Equal(new long[] { x.Length / 64, 64 }, t32.TorchShape);
        Assert.Equal(x.Length * 4, t32.ByteSize);
        Assert.Equal(x, f.ReadFloats(t32));

        var f16 = f.ReadFloats("f16");
        for (var i = 0; i < x.Length; i++) Assert.Equal((float)(Half)x[i], f16[i]);
        Assert.Equal(65504f, f16[5]);
        Assert.Equal(float.PositiveInfinity, f16[6]); // 70000 overflows half
        Assert.Equal(2 * x.Length, f.GetTensor("f16").ByteSize);

        var bf16 = f.ReadFloats("bf16");
        for (var i = 0; i < x.Length; i++) Assert.Equal(Bf16Reference(x[i]), bf16[i]);
        Assert.Equal(1.0f, bf16[12]);      // 1 + 2^-8 is a tie: rounds down to even
        Assert.Equal(1.015625f, bf16[13]); // 1 + 3*2^-8 is a tie: rounds up to even

        Assert.Equal(new[] { 1f, 2f, 3f }, f.ReadFloats("odd"));
        Assert.Equal(new[] { 9f, 8f, 7f, 6f, 5f }, f.ReadFloats("after"));
        foreach (var t in f.Tensors) Assert.Equal(0UL, t.Offset % 64);

        Assert.Throws<ArgumentException>(() => f.ReadFloats(t32, new float[3]));
    }

    [Fact]
    public void DefaultAlignmentIsNotWritten()
    {
        using var f = GgufFile.Open(WriteTemp([], [new GgufTensorData("a", [2], GgmlType.F32, new[] { 1f, 2f })]));
        Assert.False(f.ContainsKey("general.alignment"));
        Assert.Equal(32, f.Alignment);
    }

    [Fact]
    public void LargeTensorUsesParallelPathCorrectly()
    {
        var n = 1 << 20;
        var x = new float[n];
        for (var i = 0; i < n; i++) x[i] = (i % 1000) * 0.25f - 100;
        using var f = GgufFile.Open(WriteTemp([], [new GgufTensorData("big", [1024, 1024], GgmlType.F16, x)]));
        var y = f.ReadFloats("big");
        for (var i = 0; i < n; i++) Assert.Equal(x[i], y[i]); // exactly representable in half
    }

    [Fact]
    public void Q8_0DequantisesAgainstHandComputedBlocks()
    {
        // Start from a valid F32 [64] tensor (256 bytes) and relabel it Q8_0 (2 blocks, 68 bytes) with hand-made blocks.
        var path = WriteTemp([], [new GgufTensorData("q", [64], GgmlType.F32, new float[64])]);
        var bytes = File.ReadAllBytes(path);
        PutU32(bytes, FindTensor(bytes, "q").Type, (uint)GgmlType.Q8_0);
        long dataAt;
        using (var f32 = GgufFile.Open(path)) dataAt = f32.DataOffset;

        var expected = new float[64];
        var scales = new[] { 0.5f, -0.125f };
        for (var blk = 0; blk < 2; blk++)
        {
            var at = (int)dataAt + blk * 34;
            BitConverter.TryWriteBytes(bytes.AsSpan(at), BitConverter.HalfToUInt16Bits((Half)scales[blk]));
            for (var j = 0; j < 32; j++)
            {
                var q = (sbyte)(j * 8 - 128 + blk); // spans -128..+121
                bytes[at + 2 + j] = (byte)q;
                expected[blk * 32 + j] = scales[blk] * q;
            }
        }
        using var f = GgufFile.Open(Save(bytes));
        var t = f.GetTensor("q");
        Assert.Equal(GgmlType.Q8_0, t.Type);
        Assert.Equal(68, t.ByteSize);
        var got = f.ReadFloats(t);
        Assert.Equal(expected, got);
        Assert.Equal(-64f, got[0]);        // 0.5 * -128
        Assert.Equal(-0.125f * -127, got[32]);
    }

    [Fact]
    public void WriterRejectsBadTensors()
    {
        var dir = TestPaths.NewTempDir("gguf");
        var p = Path.Combine(dir, "x.gguf");
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(p, [], [new GgufTensorData("a", [32], GgmlType.Q8_0, new float[32])]));
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(p, [], [new GgufTensorData("a", [3], GgmlType.F32, new float[4])]));
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(p, [], [new GgufTensorData("a", [1, 1, 1, 1, 1], GgmlType.F32, new float[1])]));
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(p, [], [new("a", [1], GgmlType.F32, new float[1]), new("a", [1], GgmlType.F32, new float[1])]));
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(p, [new("k", DateTime.Now)], []));
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(p, [], [], alignment: 24));
    }
}
