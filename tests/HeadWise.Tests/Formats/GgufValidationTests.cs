using Xunit;
using HeadWise.Formats.Gguf;
using static HeadWise.Tests.Formats.GgufTestFiles;

namespace HeadWise.Tests.Formats;

/// <summary>Each malformed-file case, made by mutating a valid small GGUF, must be refused with a message naming the problem.</summary>
public class GgufValidationTests
{
    [Fact]
    public void ValidSmallFileOpens()
    {
        var path = Save(Small());
        using var f = GgufFile.Open(path);
        Assert.Equal(2, f.Tensors.Count);
        Assert.Equal(new float[] { 100, 101, 102, 103, 104, 105, 106, 107 }, f.ReadFloats("tensor.b"));
    }

    [Fact]
    public void WrongMagic()
    {
        var b = Small();
        b[0] = (byte)'X';
        AssertRejected(b, "magic");
    }

    [Fact]
    public void Version1Refused() { var b = Small(); PutU32(b, 4, 1); AssertRejected(b, "version 1"); }

    [Fact]
    public void UnknownVersionRefused() { var b = Small(); PutU32(b, 4, 7); AssertRejected(b, "version 7"); }

    [Fact]
    public void TruncatedHeader() => AssertRejected(Small()[..10], "truncated");

    [Fact]
    public void EmptyFile() => AssertRejected([], "truncated");

    [Fact]
    public void TruncatedMetadata()
    {
        var b = Small();
        AssertRejected(b[..(FindString(b, "test.ints") + 12)], "truncated");
    }

    [Fact]
    public void StringLengthPastEnd()
    {
        var b = Small();
        PutU64(b, FindString(b, "general.architecture"), 1UL << 40);
        AssertRejected(b, "past the end");
    }

    [Fact]
    public void ArrayCountAbsurd()
    {
        var b = Small();
        var count = FindString(b, "test.ints") + 8 + "test.ints".Length + 4 + 4; // key, value type, element type
        Assert.Equal(3UL, GetU64(b, count));
        PutU64(b, count, ulong.MaxValue / 2);
        AssertRejected(b, "absurd", "array length");
    }

    [Fact]
    public void TensorCountAbsurd() { var b = Small(); PutU64(b, 8, 1UL << 50); AssertRejected(b, "absurd", "tensor count"); }

    [Fact]
    public void KvCountAbsurd() { var b = Small(); PutU64(b, 16, ulong.MaxValue); AssertRejected(b, "absurd", "kv count"); }

    [Fact]
    public void DuplicateMetadataKey()
    {
        var b = Small(extraMetadata: [new("test.intz", 5)]);
        var at = FindString(b, "test.intz");
        b[at + 8 + 8] = (byte)'s';
        AssertRejected(b, "duplicate metadata key");
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(5u)]
    public void NDimsOutOfRange(uint nDims)
    {
        var b = Small();
        PutU32(b, FindTensor(b, "tensor.a").NDims, nDims);
        AssertRejected(b, "n_dims");
    }

    [Fact]
    public void ZeroDimension()
    {
        var b = Small();
        PutU64(b, FindTensor(b, "tensor.b").Dims + 8, 0);
        AssertRejected(b, "dimension", "positive");
    }

    [Fact]
    public void NegativeDimension()
    {
        var b = Small();
        PutU64(b, FindTensor(b, "tensor.b").Dims, unchecked((ulong)-4L));
        AssertRejected(b, "dimension", "positive");
    }

    [Fact]
    public void DimensionProductOverflows()
    {
        var b = Small();
        var e = FindTensor(b, "tensor.b");
        PutU64(b, e.Dims, 1UL << 40);
        PutU64(b, e.Dims + 8, 1UL << 40);
        AssertRejected(b, "overflow");
    }

    [Theory]
    [InlineData(4u)]   // retired Q4_2
    [InlineData(99u)]
    public void UnknownTensorType(uint type)
    {
        var b = Small();
        PutU32(b, FindTensor(b, "tensor.a").Type, type);
        AssertRejected(b, "unknown tensor type", type.ToString());
    }

    [Fact]
    public void RowNotMultipleOfBlockSize()
    {
        var b = Small(); // tensor.a has 8 elements; Q8_0 blocks hold 32
        PutU32(b, FindTensor(b, "tensor.a").Type, (uint)GgmlType.Q8_0);
        AssertRejected(b, "block size");
    }

    [Fact]
    public void OffsetNotAligned()
    {
        var b = Small();
        var e = FindTensor(b, "tensor.b");
        PutU64(b, e.Offset, GetU64(b, e.Offset) + 4);
        AssertRejected(b, "not aligned");
    }

    [Fact]
    public void OffsetPastEnd()
    {
        var b = Small();
        PutU64(b, FindTensor(b, "tensor.b").Offset, 1UL << 40);
        AssertRejected(b, "past the end");
    }

    [Fact]
    public void TensorDataTruncated() => AssertRejected(Small()[..^4], "past the end");

    [Fact]
    public void OverlappingTensors()
    {
        var b = Small();
        PutU64(b, FindTensor(b, "tensor.b").Offset, 0); // tensor.a lives at 0
        AssertRejected(b, "overlap", "tensor.a", "tensor.b");
    }

    [Fact]
    public void DuplicateTensorNames()
    {
        var b = Small(nameB: "tensor.x");
        b[FindString(b, "tensor.x") + 8 + 7] = (byte)'a';
        AssertRejected(b, "duplicate tensor name", "tensor.a");
    }

    [Fact]
    public void AlignmentNotPowerOfTwo()
    {
        var b = Small(alignment: 64);
        var at = FindString(b, "general.alignment") + 8 + "general.alignment".Length;
        Assert.Equal((uint)GgufValueType.UInt32, BitConverter.ToUInt32(b, at));
        PutU32(b, at + 4, 48);
        AssertRejected(b, "general.alignment", "power of two");
    }

    [Fact]
    public void UnknownMetadataValueType()
    {
        var b = Small();
        PutU32(b, FindString(b, "general.architecture") + 8 + "general.architecture".Length, 13);
        AssertRejected(b, "unknown value type");
    }

    [Fact]
    public void BoolOtherThanZeroOrOne()
    {
        var b = Small(extraMetadata: [new("test.flag", true)]);
        b[FindString(b, "test.flag") + 8 + "test.flag".Length + 4] = 7;
        AssertRejected(b, "bool");
    }

    [Fact]
    public void EveryTruncationIsRejected()
    {
        var full = Small();
        for (var n = 0; n < full.Length; n++)
            AssertRejected(full[..n]);
    }

    [Fact]
    public void RandomCorruptionNeverCrashes()
    {
        var full = Small(extraMetadata: [new("test.nested", new object[] { new[] { "a", "b" }, new[] { 1.5 } })]);
        var rng = new Random(1234);
        var rejected = 0;
        for (var iter = 0; iter < 300; iter++)
        {
            var b = (byte[])full.Clone();
            for (var k = 0; k < 1 + rng.Next(4); k++) b[rng.Next(b.Length)] = (byte)rng.Next(256);
            var path = Save(b);
            try
            {
                using var f = GgufFile.Open(path);
                foreach (var t in f.Tensors)
                    if (GgmlTypeInfo.CanDequantize(t.Type)) f.ReadFloats(t);
            }
            catch (InvalidModelFileException) { rejected++; }
            finally { Directory.Delete(Path.GetDirectoryName(path)!, true); }
        }
        Assert.True(rejected > 0);
    }

    [Fact]
    public void UnsupportedTypeFailsOnRead()
    {
        var b = Small(); // tensor.a F32 [8] is 32 bytes; as MXFP4 [32] it needs 17, which fits
        var e = FindTensor(b, "tensor.a");
        PutU64(b, e.Dims, 32);
        PutU32(b, e.Type, (uint)GgmlType.MXFP4);
        using var f = GgufFile.Open(Save(b));
        var t = f.GetTensor("tensor.a");
        Assert.Equal(GgmlType.MXFP4, t.Type);
        Assert.Equal(17, t.ByteSize);
        Assert.Equal(17, f.RawBytes(t).Length);
        var ex = Assert.Throws<InvalidModelFileException>(() => f.ReadFloats(t));
        Assert.Contains("type MXFP4, which HeadWise cannot read", ex.Message);
        Assert.Contains("tensor.a", ex.Message);
    }

    [Fact]
    public void MissingFile()
    {
        var ex = Assert.Throws<InvalidModelFileException>(() => GgufFile.Open("/nonexistent/x.gguf"));
        Assert.Contains("not found", ex.Message);
    }
}
