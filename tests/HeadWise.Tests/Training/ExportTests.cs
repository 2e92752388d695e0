using HeadWise.Formats.Gguf;
using HeadWise.Formats.HuggingFace;
using HeadWise.Models;
using HeadWise.Tests.Models;
using HeadWise.Tests.Oracles;
using HeadWise.Training;
using TorchSharp;

namespace HeadWise.Tests.Training;

/// <summary>Acceptance 3: the exported GGUF loads in llama.cpp with the same logits; the HF export is the same model.</summary>
public class ExportTests
{
    private static string Dir => TinyTraining.TrainedDir.Value;

    [Fact]
    public void Llama_cpp_loads_the_exported_gguf_and_its_logits_match_to_1e_3()
    {
        var gguf = Path.Combine(Dir, "model.gguf");
        using var oracle = new LlamaCpp(gguf, 128);
        using var loaded = ModelLoader.Load(gguf);
        var text = File.ReadAllText(TestPaths.MobyDick).Substring(300_000, 2_000);
        var tokens = loaded.Tokenizer.Encode(text, addBos: true).Take(128).ToArray();
        Assert.Equal(128, tokens.Length);
        var expected = oracle.Logits(tokens);
        using var ids = torch.tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        using var logits = loaded.Transformer.Forward(ids);
        var actual = logits.reshape(tokens.Length, -1).data<float>().ToArray();
        int vocab = expected[0].Length;
        Assert.Equal(loaded.Spec.VocabSize, vocab);
        double maxDiff = 0, spread = 0;
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < vocab; v++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(actual[t * vocab + v] - expected[t][v]));
                spread = Math.Max(spread, Math.Abs(expected[t][v]));
            }
        Assert.True(spread > 1, $"logits are all near 0 (max {spread}): the comparison would prove nothing");
        Assert.True(maxDiff <= 1e-3, $"max |logit difference| {maxDiff:g3}");
    }

    [Fact]
    public void Llama_cpp_and_headwise_tokenize_the_exported_vocabulary_alike()
    {
        var gguf = Path.Combine(Dir, "model.gguf");
        using var oracle = new LlamaCpp(gguf, 128);
        using var loaded = ModelLoader.Load(gguf);
        Assert.Equal("gpt2", loaded.Tokenizer.Kind);
        var all = File.ReadAllText(TestPaths.MobyDick);
        foreach (var text in new[] { all.Substring(400_000, 3_000), "The pass key is 71432. Remember it. 71432 is the pass key.", "  spaces\tand\nlines  ", "naïve café 🐋" })
        {
            var expected = oracle.Tokenize(text, addBos: true);
            Assert.Equal(expected, loaded.Tokenizer.Encode(text, addBos: true).ToArray());
        }
    }

    [Fact]
    public void Hugging_face_export_holds_the_same_model_in_the_halves_rope_layout()
    {
        using var gguf = LlamaCppParityTests.OpenGguf(Path.Combine(Dir, "model.gguf"));
        var (spec, tensors) = HfCheckpoint.Open(Dir);
        Assert.Equal(RopeLayout.Halves, spec.Rope);
        Assert.Equal(gguf.Spec.NormEps, spec.NormEps, 1e-9);   // GGUF keeps it as float32
        Assert.Equal(gguf.Spec with { Rope = RopeLayout.Halves, Name = spec.Name, WeightType = spec.WeightType, NormEps = spec.NormEps }, spec);
        using var hf = new Transformer(spec, ModelWeights.Load(spec, tensors));
        ((IDisposable)tensors).Dispose();
        var rng = new Random(5);
        var ids = torch.tensor(Enumerable.Range(0, 100).Select(_ => (long)rng.Next(gguf.Spec.VocabSize)).ToArray(), [1, 100]);
        using var a = gguf.Forward(ids);
        using var b = hf.Forward(ids);
        Assert.True(a.allclose(b, rtol: 0, atol: 1e-4), $"max diff {(a - b).abs().max().item<float>()}");
        // Without the Q/K permutation the halves layout would give different logits: the check above can fail.
        var wrongSpec = spec with { Rope = RopeLayout.Interleaved };
        var (_, t2) = HfCheckpoint.Open(Dir);
        using var wrong = new Transformer(wrongSpec, ModelWeights.Load(wrongSpec, t2));
        ((IDisposable)t2).Dispose();
        using var c = wrong.Forward(ids);
        Assert.False(a.allclose(c, rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void Run_folder_holds_every_output_and_the_tokenizer_json_matches_the_vocabulary()
    {
        foreach (var f in new[] { "model.gguf", "config.json", "model.safetensors", "tokenizer.json", "loss.png", "model-card.json", "train-log.jsonl", "bpe.json" })
            Assert.True(File.Exists(Path.Combine(Dir, f)), f);
        var vocab = BpeVocabularyFile.Load(Path.Combine(Dir, "bpe.json"));
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "tokenizer.json")));
        var model = doc.RootElement.GetProperty("model");
        Assert.Equal("BPE", model.GetProperty("type").GetString());
        Assert.Equal(vocab.Tokens.Length, model.GetProperty("vocab").EnumerateObject().Count());
        Assert.Equal(vocab.Merges, model.GetProperty("merges").EnumerateArray().Select(m => m.GetString()!));
        Assert.Equal(20, File.ReadLines(Path.Combine(Dir, "train-log.jsonl")).Count());
        using var png = File.OpenRead(Path.Combine(Dir, "loss.png"));
        var magic = new byte[4];
        png.ReadExactly(magic);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], magic);
    }
}
