using System.Text.Json.Nodes;
using HeadWise.Formats.HuggingFace;
using HeadWise.Generation;
using HeadWise.Heads;
using HeadWise.Models;
using HeadWise.Models.Variants;
using HeadWise.Tests.Cli;
using HeadWise.Tests.Oracles;
using HeadWise.Training;
using TorchSharp;

namespace HeadWise.Tests.Training;

/// <summary>
/// Issue 20, acceptance 6 and scope 1: each variant's CI config (configs/variants/ci-*.json) trains for a few seconds,
/// exports, reloads as the same model with its switch, runs hooks and generation; GGUF only where llama.cpp computes it.
/// </summary>
public class VariantTrainingTests
{
    private static readonly Dictionary<string, Lazy<string>> Trained = AttentionVariant.Kinds.ToDictionary(k => k, k => new Lazy<string>(() =>
    {
        var dir = TestPaths.NewTempDir("hw-variant-" + k);
        var config = TrainConfig.Load(Path.Combine(TrainConfigValidationTests.RepoRoot(), "configs", "variants", $"ci-{k}.json"));
        TrainingRun.Run(config, dir, export: new ExportOptions(ProbeSamples: 2, ProbeLengths: [64], HarnessSamples: 0));
        return dir;
    }));

    public static TheoryData<string> Kinds => [.. AttentionVariant.Kinds];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_trained_variant_reloads_from_its_hugging_face_files_as_the_same_model_with_its_switch(string kind)
    {
        var dir = Trained[kind].Value;
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        Assert.Equal(kind, (string?)config[AttentionVariantJson.ConfigField]?["kind"]);
        Assert.Equal(kind == "sqa", File.Exists(Path.Combine(dir, "model.gguf")));   // only SQA is plain llama to llama.cpp
        var log = File.ReadAllLines(Path.Combine(dir, "train-log.jsonl"));
        Assert.Equal(6, log.Length);

        // The checkpoint's weights under the training spec (interleaved RoPE) against the reloaded export (halves).
        var trainConfig = TrainConfig.Load(Path.Combine(TrainConfigValidationTests.RepoRoot(), "configs", "variants", $"ci-{kind}.json"));
        var (hfSpec, tensors) = HfCheckpoint.Open(dir);
        using var hfWeights = ModelWeights.Load(hfSpec, tensors);
        ((IDisposable)tensors).Dispose();
        Assert.Equal(trainConfig.Attention, hfSpec.Attention);
        var spec = ModelInit.Spec(trainConfig, hfSpec.VocabSize);
        using var weights = ModelInit.Random(spec, 1);
        Checkpoint.LoadWeights(Path.Combine(dir, "checkpoint", "weights.bin"), weights);
        var ids = torch.tensor(Enumerable.Range(0, 60).Select(i => (long)(i * 7 % hfSpec.VocabSize)).ToArray(), [1, 60]);
        using var _ = torch.no_grad();
        var trained = new Transformer(spec, weights).Forward(ids);
        var reloaded = new Transformer(hfSpec, hfWeights).Forward(ids);
        Assert.True(trained.allclose(reloaded, rtol: 0, atol: 1e-4), $"max diff {(trained - reloaded).abs().max().item<float>()}");
        if (kind != "sqa")
        {
            // Without its switch the same weights are another model: the comparison above can fail.
            var plain = hfSpec with { Attention = null };
            var plainWeights = new ModelWeights(hfWeights.Named().Where(n => !n.Name.StartsWith("blk.")).ToDictionary(n => n.Name, n => n.Tensor),
                hfWeights.Layers.Select(l => new LayerWeights(l.Tensors.Where(t => !t.Key.StartsWith("moh_", StringComparison.Ordinal)))).ToList());
            Assert.False(trained.allclose(new Transformer(plain, plainWeights).Forward(ids), rtol: 0, atol: 1e-4));
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_reloaded_variant_runs_hooks_and_cached_generation(string kind)
    {
        using var model = ModelLoader.Load(Trained[kind].Value);
        Assert.Equal(kind, model.Spec.Attention?.Kind);
        var ids = model.Tokenizer.Encode("Call me Ishmael. Some years ago", addBos: true).ToArray();
        var (logits, cache) = model.Transformer.RunWithCache(torch.tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]), n => n.EndsWith("hook_pattern"));
        using (cache)
        {
            var pattern = cache[HookNames.ForLayer(1).Pattern];
            Assert.Equal([1, model.Spec.Heads, ids.Length, ids.Length], pattern.shape);
            Assert.Equal(0f, pattern[0, 0, 0, 1].item<float>());   // causal: nothing on a later key
        }
        logits.Dispose();
        // Cached, token by token, greedy generation equals re-running the whole sequence each time.
        var generated = new Generator(model.Transformer).Generate(ids, 8, new Sampler(), model.Tokenizer.EosId);
        var seq = ids.ToList();
        using var _ = torch.no_grad();
        for (int i = 0; i < generated.Count && seq.Count < 64; i++)
        {
            var all = model.Transformer.Forward(torch.tensor(seq.Select(t => (long)t).ToArray(), [1, seq.Count]));
            Assert.Equal(generated[i], (int)all[0, -1].argmax().item<long>());
            seq.Add(generated[i]);
        }
    }

    [Fact]
    public void Every_shipped_variant_config_loads_and_the_claim_configs_differ_only_in_their_switch()
    {
        var dir = Path.Combine(TrainConfigValidationTests.RepoRoot(), "configs", "variants");
        var files = Directory.GetFiles(dir, "*.json");
        Assert.True(files.Length >= 16, $"{files.Length} configs");
        foreach (var f in files)
            if (Path.GetFileName(f).StartsWith("icl-", StringComparison.Ordinal)) RegressionConfig.Load(f);
            else TrainConfig.Load(f);
        var softmax = TrainConfig.Load(Path.Combine(dir, "softmax.json"));
        foreach (var kind in new[] { "moh", "sigmoid", "linear", "mala" })
        {
            var c = TrainConfig.Load(Path.Combine(dir, kind + ".json"));
            Assert.Equal(kind, c.Attention?.Kind);
            Assert.Equal(softmax.ToJson(), (c with { Attention = null, Name = softmax.Name }).ToJson());
        }
        // The sinks pair (acceptance 3) trains longer than the shared config, and also differs only in the switch.
        var softmaxSinks = TrainConfig.Load(Path.Combine(dir, "softmax-sinks.json"));
        var sigmoidSinks = TrainConfig.Load(Path.Combine(dir, "sigmoid-sinks.json"));
        Assert.Null(softmaxSinks.Attention);
        Assert.Equal("sigmoid", sigmoidSinks.Attention?.Kind);
        Assert.Equal(softmaxSinks.ToJson(), (sigmoidSinks with { Attention = null, Name = softmaxSinks.Name }).ToJson());
    }

    [Theory]
    [InlineData("moh")]
    [InlineData("mala")]
    public void A_variant_config_reproduces_its_losses_from_its_seed(string kind)
    {
        var config = TrainConfig.Load(Path.Combine(TrainConfigValidationTests.RepoRoot(), "configs", "variants", $"ci-{kind}.json")) with { Steps = 3 };
        double[] Losses()
        {
            using var trainer = new Trainer(config, TestPaths.NewTempDir("hw-variant-seed"));
            trainer.Run();
            return trainer.Log.Steps.Select(s => s.Loss).ToArray();
        }
        var first = Losses();
        Assert.Equal(3, first.Length);
        Assert.Equal(first, Losses());
        // Another seed is another run: the comparison can fail.
        using var other = new Trainer(config with { Seed = config.Seed + 1 }, TestPaths.NewTempDir("hw-variant-seed"));
        other.Run();
        Assert.NotEqual(first, other.Log.Steps.Select(s => s.Loss).ToArray());
    }

    [Fact]
    public void The_sqa_gguf_runs_in_llama_cpp_with_the_same_logits()
    {
        var gguf = Path.Combine(Trained["sqa"].Value, "model.gguf");
        using var oracle = new LlamaCpp(gguf, 128);
        using var loaded = ModelLoader.Load(gguf);
        Assert.Equal(2, loaded.Spec.Heads);              // half of the config's 4 heads
        Assert.Equal(8, loaded.Spec.HeadDim);            // the full model's head size, dim / heads
        var tokens = loaded.Tokenizer.Encode(File.ReadAllText(TestPaths.MobyDick).Substring(300_000, 1_000), addBos: true).Take(100).ToArray();
        var expected = oracle.Logits(tokens);
        using var logits = loaded.Transformer.Forward(torch.tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]));
        var actual = logits.reshape(tokens.Length, -1).data<float>().ToArray();
        int vocab = expected[0].Length;
        double worst = 0;
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < vocab; v++) worst = Math.Max(worst, Math.Abs(actual[t * vocab + v] - expected[t][v]));
        Assert.True(worst <= 1e-3, $"max |logit difference| {worst:g3}");
    }

    [Fact]
    public void Gguf_export_of_a_variant_llama_cpp_cannot_compute_is_refused_with_a_clear_message()
    {
        using var model = ModelLoader.Load(Trained["mala"].Value);
        var e = Assert.Throws<HeadWiseException>(() => GgufExporter.Write(Path.Combine(TestPaths.NewTempDir(), "m.gguf"),
            model.Spec with { Rope = RopeLayout.Interleaved }, model.Transformer.Weights, BpeVocabularyFile.Load(Path.Combine(Trained["mala"].Value, "bpe.json"))));
        Assert.Contains("GGUF export refused", e.Message);
        Assert.Contains("mala attention", e.Message);
    }

    [Theory]
    [InlineData("\"attention\": { \"kind\": \"moh\", \"shared_heads\": 1, \"top_k\": 5 }", "top_k = 5 must be in 1..3")]
    [InlineData("\"attention\": { \"kind\": \"sqa\", \"query_heads\": 3 }", "query_heads = 3 does not divide the model's dimension 32")]
    [InlineData("\"attention\": { \"kind\": \"gated\" }", "gated")]
    public void Bad_variant_configs_fail_in_the_cli_with_one_error_line(string attention, string expected)
    {
        var dir = TestPaths.NewTempDir("hw-bad-variant");
        var text = File.ReadAllText(Path.Combine(TrainConfigValidationTests.RepoRoot(), "configs", "variants", "ci-sigmoid.json"))
            .Replace("\"attention\": { \"kind\": \"sigmoid\" }", attention).Replace("shared/data/moby-dick.txt", TestPaths.MobyDick);
        var path = Path.Combine(dir, "bad.json");
        File.WriteAllText(path, text);
        var r = CliProcess.Run("train", "--config", path, "--out", Path.Combine(dir, "out"));
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
        Assert.False(Directory.Exists(Path.Combine(dir, "out")));
    }

    [Fact]
    public void A_non_softmax_variant_with_a_compressing_kv_policy_fails_in_the_cli_with_one_error_line()
    {
        var r = CliProcess.Run("generate", "--model", Trained["sigmoid"].Value, "--prompt", "Call me Ishmael.", "--max-tokens", "4",
            "--policy", "streaming", "--budget", "0.5");
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains("sigmoid attention", line);
    }
}
