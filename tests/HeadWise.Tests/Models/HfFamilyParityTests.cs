using HeadWise.Formats.Gguf;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using HeadWise.Tests.Oracles;
using TorchSharp;

namespace HeadWise.Tests.Models;

/// <summary>
/// Acceptance 1: for each decoder family, a random checkpoint in the Hugging Face layout, loaded by HeadWise, gives
/// llama.cpp's logits on the converted GGUF (to 1e-3 over 160 tokens); HeadWise's own loading of that GGUF agrees
/// with the folder; and HeadWise's tokenizer.json tokenizer agrees with llama.cpp's tokenizer on the GGUF.
/// </summary>
public class HfFamilyParityTests
{
    private const double Tolerance = 1e-3;
    private const int Tokens = 160;

    [Theory]
    [InlineData("llama")]
    [InlineData("mistral")]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    [InlineData("gpt2")]
    public void Hf_folder_matches_llama_cpp_on_the_converted_gguf(string family)
    {
        var root = TestPaths.NewTempDir("fam");
        var dir = RandomHfCheckpoint.Write(Path.Combine(root, family), family, seed: family.Length);
        var gguf = Path.Combine(root, family + ".gguf");
        GgufConverter.Convert(dir, gguf);

        using var hf = ModelLoader.Load(dir);
        Assert.Equal(family, hf.Spec.Architecture);
        Assert.Equal("safetensors", hf.Format);
        var rng = new Random(5);
        var tokens = Enumerable.Range(0, Tokens).Select(_ => rng.Next(0, hf.Spec.VocabSize)).ToArray();
        var hfLogits = Logits(hf.Transformer, tokens);

        using (var oracle = new LlamaCpp(gguf, 256))
        {
            Assert.Equal(hf.Spec.VocabSize, oracle.VocabSize);
            var expected = oracle.Logits(tokens);
            var diff = MaxDiff(hfLogits, expected);
            // GPT-2: ggml's CPU GELU reads a float16 lookup table (GGML_GELU_FP16), which moves logits by ~5e-3 here;
            // the 1e-3 check for GPT-2 is against the independent reference below (Gpt2_matches_a_plain_reference_forward).
            var tolerance = family == "gpt2" ? 1e-2 : Tolerance;
            Assert.True(diff <= tolerance, $"{family}: max |HeadWise(HF) - llama.cpp| = {diff:g3} > {tolerance}");
            Assert.True(Spread(expected) > 1, "logits should spread over more than a unit, or the comparison says little");

            const string text = "The whale, the whale! Call me Ishmael. It is 1851 and there are 3 ships.";
            Assert.Equal(oracle.Tokenize(text, hf.Tokenizer.AddBosByDefault), hf.Tokenizer.Encode(text, hf.Tokenizer.AddBosByDefault));
        }

        using var fromGguf = ModelLoader.Load(gguf);
        var ggufDiff = MaxDiff(hfLogits, Logits(fromGguf.Transformer, tokens));
        Assert.True(ggufDiff <= 1e-4, $"{family}: HeadWise on the GGUF differs from the HF folder by {ggufDiff:g3}");
    }

    /// <summary>GPT-2's exact check: a plain double-precision forward from the raw HF tensors (llama.cpp's GELU is float16-tabled).</summary>
    [Fact]
    public void Gpt2_matches_a_plain_reference_forward_over_160_tokens()
    {
        var dir = RandomHfCheckpoint.Write(TestPaths.NewTempDir("gpt2"), "gpt2", seed: 4);
        using var hf = ModelLoader.Load(dir);
        var rng = new Random(5);
        var tokens = Enumerable.Range(0, Tokens).Select(_ => rng.Next(0, hf.Spec.VocabSize)).ToArray();
        var expected = ReferenceGpt2.Logits(Path.Combine(dir, "model.safetensors"), RandomHfCheckpoint.Layers, RandomHfCheckpoint.Heads, 1e-5, tokens);
        var actual = Logits(hf.Transformer, tokens);
        double max = 0;
        for (int t = 0; t < Tokens; t++)
            for (int v = 0; v < expected[t].Length; v++) max = Math.Max(max, Math.Abs(actual[t][v] - expected[t][v]));
        Assert.True(max <= Tolerance, $"max |HeadWise - reference| = {max:g3}");
    }

    [Fact]
    public void Permutation_moves_halves_to_adjacent_pairs_within_each_head()
    {
        // 2 heads of size 4, rows labelled by their index: halves (0,2),(1,3) become pairs (0,1),(2,3).
        var rows = Enumerable.Range(0, 8).Select(i => (float)i).ToArray();
        var pairs = TensorLayout.PermuteRopeRows(rows, 2, 4, halvesToPairs: true);
        Assert.Equal(new float[] { 0, 2, 1, 3, 4, 6, 5, 7 }, pairs);
        Assert.Equal(rows, TensorLayout.PermuteRopeRows(pairs, 2, 4, halvesToPairs: false));
    }

    [Fact]
    public void Converting_an_architecture_the_converter_does_not_know_is_a_clear_error()
    {
        // A decoder whose model_type is one HeadWise does not read (the real encoder case is in HfCheckpointTests).
        var dir = RandomHfCheckpoint.Write(TestPaths.NewTempDir(), "qwen2");
        var config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"qwen2\"", "\"falcon\""));
        var e = Assert.Throws<InvalidModelFileException>(() => GgufConverter.Convert(dir, Path.Combine(dir, "x.gguf")));
        Assert.Contains("falcon", e.Message);
    }

    private static float[][] Logits(Transformer model, int[] tokens)
    {
        using var scope = torch.NewDisposeScope();
        var ids = torch.tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        var flat = model.Forward(ids).reshape(tokens.Length, -1).data<float>().ToArray();
        int v = flat.Length / tokens.Length;
        return Enumerable.Range(0, tokens.Length).Select(t => flat.AsSpan(t * v, v).ToArray()).ToArray();
    }

    private static double MaxDiff(float[][] a, float[][] b)
    {
        double max = 0;
        for (int t = 0; t < a.Length; t++)
        {
            Assert.Equal(a[t].Length, b[t].Length);
            for (int v = 0; v < a[t].Length; v++) max = Math.Max(max, Math.Abs(a[t][v] - b[t][v]));
        }
        return max;
    }

    private static double Spread(float[][] logits) => logits.Average(r => r.Max() - r.Min());
}
