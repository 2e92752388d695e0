using HeadWise.Formats.Gguf;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;

namespace HeadWise.Tests.Models;

/// <summary>What a GGUF's metadata must say before a model is built from it.</summary>
public class GgufModelSpecTests
{
    [Theory]
    [InlineData("llama.block_count")]
    [InlineData("llama.embedding_length")]
    [InlineData("llama.attention.head_count")]
    [InlineData("llama.context_length")]
    [InlineData("general.architecture")]
    public void Missing_required_metadata_is_named(string key)
    {
        var path = RewriteRandomModel(meta => meta.Where(kv => kv.Key != key));
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<InvalidModelFileException>(() => GgufModelSpec.Read(file));
        Assert.Contains(key, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Unknown_architecture_is_named_with_the_supported_ones()
    {
        var path = RewriteRandomModel(meta => meta.Select(kv => kv.Key == "general.architecture" ? new KeyValuePair<string, object>(kv.Key, "mamba") : kv));
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<InvalidModelFileException>(() => GgufModelSpec.Read(file));
        Assert.Contains("'mamba'", e.Message);
        Assert.Contains("llama", e.Message);
    }

    [Fact]
    public void Kv_heads_that_do_not_divide_the_heads_are_refused()
    {
        var path = RewriteRandomModel(meta => meta.Select(kv => kv.Key == "llama.attention.head_count_kv" ? new KeyValuePair<string, object>(kv.Key, 3u) : kv));
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<InvalidModelFileException>(() => GgufModelSpec.Read(file));
        Assert.Contains("KV head count 3", e.Message);
    }

    [Fact]
    public void A_tensor_of_the_wrong_shape_is_named_before_any_weight_is_read()
    {
        var dir = TestPaths.NewTempDir();
        var good = RandomLlamaGguf.Write(Path.Combine(dir, "good.gguf"), new RandomLlamaConfig(Layers: 1, Dim: 32, Heads: 4, KvHeads: 2, FfnDim: 64, Vocab: 300));
        using var source = GgufFile.Open(good);
        // Claim a wider FFN than the tensors have.
        var path = Rewrite(source, Path.Combine(dir, "bad.gguf"), meta => meta.Select(kv => kv.Key == "llama.feed_forward_length" ? new KeyValuePair<string, object>(kv.Key, 65u) : kv));
        using var file = GgufFile.Open(path);
        var spec = GgufModelSpec.Read(file);
        using var tensors = new GgufTensorSource(file, spec);
        var e = Assert.Throws<InvalidModelFileException>(() => ModelWeights.Load(spec, tensors));
        Assert.Contains("blk.0.ffn_gate.weight", e.Message);  // the first tensor of the layout that the wider FFN breaks
        Assert.Contains("[64, 32]", e.Message);
        Assert.Contains("[65, 32]", e.Message);
    }

    private static string RewriteRandomModel(Func<IEnumerable<KeyValuePair<string, object>>, IEnumerable<KeyValuePair<string, object>>> edit)
    {
        var dir = TestPaths.NewTempDir();
        var good = RandomLlamaGguf.Write(Path.Combine(dir, "good.gguf"), new RandomLlamaConfig(Layers: 1, Dim: 32, Heads: 4, KvHeads: 2, FfnDim: 64, Vocab: 300));
        using var source = GgufFile.Open(good);
        return Rewrite(source, Path.Combine(dir, "edited.gguf"), edit);
    }

    private static string Rewrite(GgufFile source, string path,
        Func<IEnumerable<KeyValuePair<string, object>>, IEnumerable<KeyValuePair<string, object>>> edit)
    {
        var tensors = source.Tensors.Select(t => new GgufTensorData(t.Name, t.Shape, GgmlType.F32, source.ReadFloats(t))).ToList();
        GgufWriter.Write(path, edit(source.Metadata), tensors);
        return path;
    }
}
