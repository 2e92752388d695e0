using HeadWise.Formats.Gguf;
using HeadWise.Generation;
using HeadWise.Models;
using HeadWise.Tests.Oracles;
using TorchSharp;

namespace HeadWise.Tests.Models;

/// <summary>
/// TinyStories-656K from ../shared, the one real Hugging Face folder here, exactly as transformers wrote it: it loads
/// (tied embedding stored only as lm_head.weight), its tokenizer.json (Prepend/Replace normalizers, ByteFallback/Fuse/
/// Strip decoder, added tokens) gives the Rust tokenizers' ids, and its logits and greedy story match llama.cpp on the
/// GGUF that `convert` writes.
/// </summary>
public class TinyStories656KTests
{
    private static readonly Lazy<LoadedModel> Model = new(() => ModelLoader.Load(TestPaths.TinyStories656K));
    private static readonly Lazy<string> Gguf = new(() =>
    {
        var path = Path.Combine(TestPaths.NewTempDir("ts656k"), "tinystories656K.gguf");
        GgufConverter.Convert(TestPaths.TinyStories656K, path);
        return path;
    });

    [Fact]
    public void Loads_with_its_tied_embedding_and_generation_config()
    {
        var m = Model.Value;
        var s = m.Spec;
        Assert.Equal(("llama", 2, 8, 4, 16, 128, 384, 2048, 512), (s.Architecture, s.Layers, s.Heads, s.KvHeads, s.HeadDim, s.Dim, s.FfnDim, s.VocabSize, s.ContextLength));
        Assert.True(s.TiedEmbeddings);
        Assert.True(m.Transformer.Weights.TiedOutput);
        Assert.Equal(656_000, m.Transformer.Weights.ParameterCount);   // the model card's count: the embedding is held once
        Assert.Equal(RopeLayout.Halves, s.Rope);
        Assert.Equal(ComputeDType.F32, s.Compute);                      // an F32 file computes in float32 by default
        // BOS from tokenizer.json's post-processor; EOS only from generation_config.json.
        Assert.Equal((1, 2), (m.Tokenizer.BosId, m.Tokenizer.EosId));
        Assert.True(m.Tokenizer.AddBosByDefault);
    }

    [Fact]
    public void Logits_match_llama_cpp_on_the_converted_gguf()
    {
        var m = Model.Value;
        var text = File.ReadAllText(TestPaths.MobyDick).Substring(40_000, 1_500);
        var tokens = m.Tokenizer.Encode(text, addBos: true).Take(256).ToArray();
        Assert.Equal(256, tokens.Length);
        using var oracle = new LlamaCpp(Gguf.Value, 512);
        var expected = oracle.Logits(tokens);
        using var ids = torch.tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        using var logits = m.Transformer.Forward(ids);
        var actual = logits.reshape(tokens.Length, -1).data<float>().ToArray();
        double max = 0;
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < 2048; v++) max = Math.Max(max, Math.Abs(actual[t * 2048 + v] - expected[t][v]));
        Assert.True(max <= 1e-3, $"max |HeadWise - llama.cpp| = {max:g3}");
    }

    [Fact]
    public void Greedy_story_from_bos_matches_llama_cpp()
    {
        var m = Model.Value;
        int[] bos = [m.Tokenizer.BosId!.Value];
        using var oracle = new LlamaCpp(Gguf.Value, 512);
        var expected = oracle.Greedy(bos, 120);
        var actual = new Generator(m.Transformer).Generate(bos, 120, new Sampler(0), eos: null);
        Assert.Equal(expected, actual);
        var story = m.Tokenizer.Decode(actual);
        Assert.StartsWith("Once upon a time", story);   // a children's story, as the model card says, in plain text
        Assert.DoesNotContain("\u2581", story);
    }

    [Fact]
    public void Tokenizer_json_matches_hugging_face_tokenizers()
    {
        var ours = Model.Value.Tokenizer;
        using var rust = new global::Tokenizers.DotNet.Tokenizer(vocabPath: Path.Combine(TestPaths.TinyStories656K, "tokenizer.json"));
        var moby = File.ReadAllText(TestPaths.MobyDick);
        string[] texts =
        [
            "Once upon a time, there was a little girl named Lily.",
            "<|start_story|>Once upon a time<|end_story|>",
            "Tabs\tand  double  spaces, naïve café — emoji 🐋 and 1851!",
            moby.Substring(100_000, 20_000),
        ];
        foreach (var text in texts)
        {
            var expected = rust.Encode(text).Select(i => (int)i).ToArray();   // BOS by the post-processor
            var actual = ours.Encode(text, addBos: true).ToArray();
            int first = Enumerable.Range(0, Math.Min(expected.Length, actual.Length)).FirstOrDefault(i => expected[i] != actual[i], -1);
            Assert.True(first < 0 && expected.Length == actual.Length,
                $"ids differ at {first} of {expected.Length}/{actual.Length} for \"{text[..Math.Min(40, text.Length)]}\": " +
                $"HF {string.Join(",", expected.Skip(Math.Max(0, first - 3)).Take(8))} vs ours {string.Join(",", actual.Skip(Math.Max(0, first - 3)).Take(8))}");
            Assert.Equal(rust.Decode(expected.Select(i => (uint)i).ToArray()), ours.Decode(actual));
        }
    }
}
