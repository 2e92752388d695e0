using HeadWise.Formats.Gguf;
using HeadWise.Generation;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using HeadWise.Tests.Oracles;
using TorchSharp;

namespace HeadWise.Tests.Models;

/// <summary>HeadWise's forward pass against llama.cpp's on the same GGUF: logits to 1e-3, greedy tokens identical.</summary>
public class LlamaCppParityTests
{
    private const double Tolerance = 1e-3;

    [Fact]
    public void Stories260K_logits_match_llama_cpp_over_300_tokens()
    {
        using var oracle = new LlamaCpp(TestPaths.Stories260KGguf, 512);
        var text = File.ReadAllText(TestPaths.MobyDick).Substring(20_000, 3_000);
        var tokens = oracle.Tokenize(text, addBos: true).Take(300).ToArray();
        Assert.Equal(300, tokens.Length);
        using var model = OpenGguf(TestPaths.Stories260KGguf);
        AssertLogitsMatch(model, oracle, tokens);
    }

    [Fact]
    public void Random_gqa_llama_logits_match_llama_cpp_over_300_tokens()
    {
        var path = RandomLlamaGguf.Write(Path.Combine(TestPaths.NewTempDir(), "random.gguf"), new RandomLlamaConfig());
        using var oracle = new LlamaCpp(path, 512);
        var rng = new Random(7);
        var tokens = new[] { 1 }.Concat(Enumerable.Range(0, 299).Select(_ => rng.Next(3, 1024))).ToArray();
        using var model = OpenGguf(path);
        Assert.Equal(8, model.Spec.Heads);
        Assert.Equal(2, model.Spec.KvHeads);
        Assert.False(model.Spec.TiedEmbeddings);
        AssertLogitsMatch(model, oracle, tokens);
    }

    [Fact]
    public void Greedy_100_tokens_match_llama_cpp_on_both_models()
    {
        var randomPath = RandomLlamaGguf.Write(Path.Combine(TestPaths.NewTempDir(), "random.gguf"), new RandomLlamaConfig());
        foreach (var path in new[] { TestPaths.Stories260KGguf, randomPath })
        {
            using var oracle = new LlamaCpp(path, 256);
            int[] prompt = [1, 400, 300, 500];
            var expected = oracle.Greedy(prompt, 100);
            using var model = OpenGguf(path);
            var actual = new Generator(model).Generate(prompt, 100, new Sampler(0), eos: null);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Chunked_prefill_and_decode_give_the_one_shot_logits()
    {
        using var model = OpenGguf(TestPaths.Stories260KGguf);
        var rng = new Random(3);
        var tokens = Enumerable.Range(0, 100).Select(_ => (long)rng.Next(3, 512)).ToArray();
        using var all = model.Forward(torch.tensor(tokens, [1, tokens.Length]));
        using var cache = new FullKvCache(model.Spec, 8);
        using var first = model.Forward(torch.tensor(tokens[..37], [1, 37]), cache);
        using var second = model.Forward(torch.tensor(tokens[37..99], [1, 62]), cache);
        using var last = model.Forward(torch.tensor(tokens[99..], [1, 1]), cache);
        using var incremental = torch.cat([first, second, last], 1);
        Assert.Equal(100, cache.Length);
        Assert.True(all.allclose(incremental, rtol: 0, atol: 1e-4), $"max diff {(all - incremental).abs().max().item<float>()}");
    }

    internal static Transformer OpenGguf(string path)
    {
        using var file = GgufFile.Open(path);
        var spec = GgufModelSpec.Read(file);
        using var source = new GgufTensorSource(file, spec);
        return new Transformer(spec, ModelWeights.Load(spec, source));
    }

    private static void AssertLogitsMatch(Transformer model, LlamaCpp oracle, int[] tokens)
    {
        var expected = oracle.Logits(tokens);
        using var ids = torch.tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        using var logits = model.Forward(ids);
        var actual = logits.reshape(tokens.Length, -1).data<float>().ToArray();
        int vocab = expected[0].Length;
        Assert.Equal(vocab, model.Spec.VocabSize);
        double maxDiff = 0;
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < vocab; v++)
                maxDiff = Math.Max(maxDiff, Math.Abs(actual[t * vocab + v] - expected[t][v]));
        Assert.True(maxDiff <= Tolerance, $"max |logit difference| {maxDiff:g3} > {Tolerance}");
    }
}

/// <summary>The llama2.c .bin and the GGUF of the same weights are one model.</summary>
public class Llama2cParityTests
{
    [Fact]
    public void Stories260K_bin_and_gguf_give_identical_logits()
    {
        using var gguf = LlamaCppParityTests.OpenGguf(TestPaths.Stories260KGguf);
        using var bin = HeadWise.Models.ModelLoader.Load(TestPaths.Stories260KBin, new() { Tokenizer = TestPaths.Stories260KTokenizerBin });
        AssertSameLogits(gguf, bin.Transformer, 512);
    }

    [Fact]
    public void Random_model_written_as_llama2c_with_separate_classifier_matches_its_gguf()
    {
        var dir = TestPaths.NewTempDir();
        var config = new RandomLlamaConfig();
        var ggufPath = RandomLlamaGguf.Write(Path.Combine(dir, "m.gguf"), config);
        using var file = GgufFile.Open(ggufPath);
        var header = new HeadWise.Formats.Llama2c.Llama2cHeader(config.Dim, config.FfnDim, config.Layers, config.Heads, config.KvHeads,
            config.Vocab, config.Context, SharedClassifier: false);
        var binPath = Path.Combine(dir, "m.bin");
        HeadWise.Formats.Llama2c.Llama2cCheckpoint.Write(binPath, header, name => file.ReadFloats(name));
        using var gguf = LlamaCppParityTests.OpenGguf(ggufPath);
        using var source = new HeadWise.Formats.Llama2c.Llama2cTensorSource(HeadWise.Formats.Llama2c.Llama2cCheckpoint.Open(binPath));
        var spec = source.Spec();
        Assert.False(spec.TiedEmbeddings);
        using var bin = new Transformer(spec, ModelWeights.Load(spec, source));
        AssertSameLogits(gguf, bin, config.Vocab);
    }

    private static void AssertSameLogits(Transformer a, Transformer b, int vocab)
    {
        var rng = new Random(11);
        var tokens = Enumerable.Range(0, 64).Select(_ => (long)rng.Next(3, vocab)).ToArray();
        using var ids = torch.tensor(tokens, [1, tokens.Length]);
        using var la = a.Forward(ids);
        using var lb = b.Forward(ids);
        Assert.True(la.eq(lb).all().item<bool>(), $"max diff {(la - lb).abs().max().item<float>()}");
    }
}
