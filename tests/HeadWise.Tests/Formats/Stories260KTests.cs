using Xunit;
using HeadWise.Formats.Gguf;
using HeadWise.Formats.Llama2c;

namespace HeadWise.Tests.Formats;

/// <summary>The real stories260K files: known facts, and the .bin and .gguf readers checked against each other.</summary>
public class Stories260KTests
{
    [Fact]
    public void GgufKnownFacts()
    {
        using var f = GgufFile.Open(TestPaths.Stories260KGguf);
        Assert.Equal(3u, f.Version);
        Assert.Equal("llama", f.Architecture);
        Assert.Equal(5, f.GetInteger("llama.block_count"));
        Assert.Equal(64, f.GetInteger("llama.embedding_length"));
        Assert.Equal(172, f.GetInteger("llama.feed_forward_length"));
        Assert.Equal(8, f.GetInteger("llama.attention.head_count"));
        Assert.Equal(4, f.GetInteger("llama.attention.head_count_kv"));
        Assert.Equal(2048, f.GetInteger("llama.context_length"));
        Assert.Equal(1e-5, f.GetNumber("llama.attention.layer_norm_rms_epsilon"), 1e-9);
        Assert.Equal(1, f.GetInteger("tokenizer.ggml.bos_token_id"));
        Assert.Equal("llama", f.GetString("tokenizer.ggml.model"));
        var tokens = f.GetArray<string>("tokenizer.ggml.tokens");
        Assert.Equal(512, tokens.Length);
        Assert.Equal(["<unk>", "<s>", "</s>", "<0x00>"], tokens[..4]);
        Assert.Equal(512, f.GetArray<float>("tokenizer.ggml.scores").Length);
        Assert.Equal(32, f.Alignment);

        Assert.Equal(48, f.Tensors.Count);
        Assert.All(f.Tensors, t => Assert.Equal(GgmlType.F32, t.Type));
        Assert.Equal(new long[] { 64, 512 }, f.GetTensor("token_embd.weight").Shape);
        Assert.Equal(new long[] { 64, 32 }, f.GetTensor("blk.0.attn_k.weight").Shape);
        Assert.Equal(new long[] { 172, 64 }, f.GetTensor("blk.4.ffn_down.weight").Shape);
        Assert.Equal(new long[] { 64 }, f.GetTensor("output_norm.weight").Shape);
        Assert.Equal(64L * 512 * 4, f.GetTensor("token_embd.weight").ByteSize);
        Assert.Equal(f.FileLength, f.DataOffset + (long)f.Tensors.Max(t => t.Offset + (ulong)t.ByteSize));

        var norm = f.ReadFloats("output_norm.weight");
        Assert.All(norm, v => Assert.True(float.IsFinite(v)));
        Assert.Contains(norm, v => v != 0 && v != 1); // learned, not an initial value
    }

    [Fact]
    public void BinHeader()
    {
        using var c = Llama2cCheckpoint.Open(TestPaths.Stories260KBin);
        Assert.Equal(new Llama2cHeader(64, 172, 5, 8, 4, 512, 512, SharedClassifier: true), c.Header);
        Assert.Equal(8, c.Header.HeadSize);
        Assert.Equal(32, c.Header.KvDim);
        Assert.Equal(1 + 9 * 5 + 1, c.Tensors.Count);
        Assert.False(c.Contains("output.weight"));
        Assert.Equal(new long[] { 32, 64 }, c.GetShape("blk.3.attn_v.weight"));
        Assert.Equal(new long[] { 64, 172 }, c.GetShape("blk.0.ffn_down.weight"));
    }

    [Fact]
    public void BinAndGgufHoldTheSameWeights()
    {
        using var bin = Llama2cCheckpoint.Open(TestPaths.Stories260KBin);
        using var gguf = GgufFile.Open(TestPaths.Stories260KGguf);
        foreach (var (name, shape) in bin.Tensors)
        {
            var t = gguf.GetTensor(name);
            Assert.Equal(shape, t.TorchShape); // ggml ne = [in, out] is torch [out, in], same bytes
            var a = bin.ReadFloats(name);
            var b = gguf.ReadFloats(t);
            Assert.True(a.AsSpan().SequenceEqual(b), $"{name} differs");
        }
        // The classifier is shared in the .bin; the GGUF stores it as its own copy.
        Assert.Equal(bin.ReadFloats("token_embd.weight"), gguf.ReadFloats("output.weight"));
        // Sanity: different tensors of one shape really differ (the comparison above can fail).
        Assert.NotEqual(bin.ReadFloats("blk.0.attn_q.weight"), gguf.ReadFloats("blk.1.attn_q.weight"));
    }

    [Fact]
    public void TokenizerBinMatchesGgufVocabulary()
    {
        var v = Llama2cVocabulary.Read(TestPaths.Stories260KTokenizerBin);
        Assert.Equal(512, v.Count);
        Assert.Equal(7, v.MaxTokenLength);
        Assert.Equal("\n<s>\n", v.Pieces[1]);
        using var gguf = GgufFile.Open(TestPaths.Stories260KGguf);
        var tokens = gguf.GetArray<string>("tokenizer.ggml.tokens");
        var scores = gguf.GetArray<float>("tokenizer.ggml.scores");
        // tok512.bin writes SentencePiece's "▁" as a plain space; otherwise the pieces agree.
        Assert.Equal(tokens.Skip(3), v.Pieces.Skip(3).Select((p, i) => tokens[i + 3].Contains('▁') ? p.Replace(' ', '▁') : p));
        Assert.Equal(scores, v.Scores);
    }

    [Fact]
    public void AiDreamsBinOpens()
    {
        var dir = Path.Combine(TestPaths.Shared, "models", "aidreams260K");
        using var c = Llama2cCheckpoint.Open(Path.Combine(dir, "aidreams260K.bin"));
        Assert.Equal(new Llama2cHeader(64, 172, 4, 4, 4, 512, 128), c.Header);
        Assert.Equal(16, c.Header.HeadSize);
        Assert.Equal(1 + 9 * 4 + 1, c.Tensors.Count);
        var v = Llama2cVocabulary.Read(Path.Combine(dir, "tok512.bin"));
        Assert.Equal(512, v.Count);
        Assert.Equal(10, v.MaxTokenLength);
    }
}
