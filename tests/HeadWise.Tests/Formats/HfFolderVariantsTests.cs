using HeadWise.Formats.Safetensors;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using TorchSharp;

namespace HeadWise.Tests.Formats;

/// <summary>
/// Hugging Face folders as people have them: the same random weights saved in the ways transformers and other tools
/// save them load into the same model (logits bit-identical), and generation_config.json sets BOS/EOS.
/// </summary>
public class HfFolderVariantsTests
{
    private sealed record Tensor(string Name, long[] Shape, string DType, float[] Data);

    /// <summary>A random tied Qwen2 folder (tie_word_embeddings true, embedding stored as model.embed_tokens.weight).</summary>
    private static (string Dir, List<Tensor> Tensors) Original(string dtype = "F32")
    {
        var dir = RandomHfCheckpoint.Write(TestPaths.NewTempDir("hfv"), "qwen2", seed: 3, dtype: dtype);
        using var f = SafetensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        var list = f.Names.Select(n =>
        {
            var data = new float[f.Info(n).ElementCount];
            f.ReadFloats(n, data);
            return new Tensor(n, f.Shape(n), f.Info(n).DType, data);
        }).ToList();
        return (dir, list);
    }

    /// <summary>The folder again, with its tensors renamed (or dropped where the name maps to null), in <paramref name="shards"/> files.</summary>
    private static string Variant(string original, List<Tensor> tensors, Func<string, string?> rename, int shards = 0)
    {
        var dir = TestPaths.NewTempDir("hfv");
        foreach (var f in new[] { "config.json", "tokenizer.json" }) File.Copy(Path.Combine(original, f), Path.Combine(dir, f));
        var renamed = tensors.Where(t => rename(t.Name) is not null)
            .Select(t => (rename(t.Name)!, t.Shape, t.DType, (ReadOnlyMemory<float>)t.Data)).ToList();
        if (shards > 0) SafetensorsWriter.WriteSharded(dir, renamed, shards);
        else SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), renamed);
        return dir;
    }

    private static float[] Logits(string dir, ComputeDType? dtype = null)
    {
        using var m = ModelLoader.Load(dir, new LoadOptions { DType = dtype });
        using var ids = torch.tensor(Enumerable.Range(0, 40).Select(i => (long)(i * 7 % m.Spec.VocabSize)).ToArray(), [1, 40]);
        using var logits = m.Transformer.Forward(ids);
        return logits.data<float>().ToArray();
    }

    [Fact]
    public void A_tied_embedding_stored_only_as_lm_head_loads_like_embed_tokens()
    {
        var (dir, tensors) = Original();
        // transformers' safetensors save of a tied model keeps one of the two names (TinyStories-656K: lm_head.weight).
        var lmHeadOnly = Variant(dir, tensors, n => n == "model.embed_tokens.weight" ? "lm_head.weight" : n);
        Assert.Equal(Logits(dir), Logits(lmHeadOnly));
        using var m = ModelLoader.Load(lmHeadOnly);
        Assert.True(m.Transformer.Weights.TiedOutput);
    }

    [Fact]
    public void Tensors_without_the_model_prefix_load_the_same()
    {
        var (dir, tensors) = Original();
        var bare = Variant(dir, tensors, n => n.StartsWith("model.") ? n["model.".Length..] : n);
        Assert.Equal(Logits(dir), Logits(bare));
    }

    [Fact]
    public void Sharded_bf16_safetensors_load_in_bf16_by_default()
    {
        var (dir, tensors) = Original("BF16");
        var sharded = Variant(dir, tensors, n => n, shards: 3);
        Assert.True(File.Exists(Path.Combine(sharded, "model.safetensors.index.json")));
        using (var m = ModelLoader.Load(sharded))
        {
            Assert.Equal("BF16", m.Spec.WeightType);
            Assert.Equal(ComputeDType.BF16, m.Spec.Compute);
            Assert.Equal(torch.ScalarType.BFloat16, m.Transformer.Weights.Layers[0].Wq.dtype);
            Assert.Equal(torch.ScalarType.Float32, m.Transformer.Weights.Layers[0].AttnNorm!.dtype);   // vectors stay float32
        }
        Assert.Equal(Logits(dir, ComputeDType.BF16), Logits(sharded));
        Assert.Equal(Logits(dir, ComputeDType.F32), Logits(sharded, ComputeDType.F32));   // bf16 weights widened exactly
    }

    [Fact]
    public void Untied_model_missing_lm_head_names_it()
    {
        var (dir, tensors) = Original();
        var cfg = Path.Combine(dir, "config.json");
        File.WriteAllText(cfg, File.ReadAllText(cfg).Replace("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false"));
        var e = Assert.Throws<InvalidModelFileException>(() => ModelLoader.Load(dir));
        Assert.Contains("lm_head.weight", e.Message);
    }

    [Fact]
    public void Generation_config_sets_bos_and_eos()
    {
        var (dir, _) = Original();
        using (var before = ModelLoader.Load(dir)) Assert.NotEqual(5, before.Tokenizer.EosId);
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), """{"bos_token_id": 4, "eos_token_id": [5, 6], "do_sample": false}""");
        using (var m = ModelLoader.Load(dir)) Assert.Equal((4, 5), (m.Tokenizer.BosId, m.Tokenizer.EosId));
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), """{"eos_token_id": "five"}""");
        var e = Assert.Throws<InvalidModelFileException>(() => ModelLoader.Load(dir));
        Assert.Contains("eos_token_id", e.Message);
    }
}
