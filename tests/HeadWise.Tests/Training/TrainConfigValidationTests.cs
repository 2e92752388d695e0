using HeadWise.Training;

namespace HeadWise.Tests.Training;

/// <summary>Acceptance 5: bad configs fail with a message naming the field, before any training starts.</summary>
public class TrainConfigValidationTests
{
    private static HeadWiseException Invalid(TrainConfig c, string outDir)
    {
        var e = Assert.Throws<HeadWiseException>(() => TrainingRun.Run(c, outDir));
        Assert.False(Directory.Exists(outDir), "nothing may be written before the config is checked");
        return e;
    }

    private static string NewOut() => Path.Combine(TestPaths.NewTempDir(), "out");

    [Fact]
    public void Zero_layers_is_rejected()
    {
        var e = Invalid(TinyTraining.Config() with { Layers = 0 }, NewOut());
        Assert.Contains("layers = 0", e.Message);
    }

    [Fact]
    public void Heads_that_do_not_divide_the_width_are_rejected()
    {
        var e = Invalid(TinyTraining.Config() with { Dim = 48, Heads = 5 }, NewOut());
        Assert.Contains("heads = 5 does not divide dim = 48", e.Message);
    }

    [Fact]
    public void A_phase_mix_with_no_positive_weight_is_rejected()
    {
        var c = TinyTraining.Config();
        var zero = new TaskMix { Text = 0, Passkey = 0, Niah = 0, KvRetrieval = 0, Copy = 0 };
        var e = Invalid(c with { Curriculum = [c.Curriculum[0] with { Mix = zero }, .. c.Curriculum[1..]] }, NewOut());
        Assert.Contains("curriculum[0].mix: at least one weight must be positive", e.Message);
    }

    [Fact]
    public void Needle_style_weights_that_are_negative_or_all_zero_are_rejected()
    {
        var e = Invalid(TinyTraining.Config() with { NiahStyles = new NeedleMix { Keyed = -1 } }, NewOut());
        Assert.Contains("niah_styles", e.Message);
        e = Invalid(TinyTraining.Config() with { NiahStyles = new NeedleMix { MagicNumber = 0, Keyed = 0, Fact = 0 } }, NewOut());
        Assert.Contains("niah_styles", e.Message);
    }

    [Fact]
    public void A_min_seq_len_above_the_phases_seq_len_is_rejected()
    {
        var c = TinyTraining.Config();
        var e = Invalid(c with { Curriculum = [c.Curriculum[0] with { MinSeqLen = 100 }, .. c.Curriculum[1..]] }, NewOut());
        Assert.Contains("curriculum[0]: min_seq_len 100 must be in 16..seq_len (64)", e.Message);
    }

    [Fact]
    public void Precision_is_read_by_name_and_an_unknown_one_names_the_field()
    {
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "c.json");
        File.WriteAllText(path, $$"""{ "precision": "bf16", "data": ["{{TestPaths.MobyDick}}"] }""");
        Assert.Equal(Precision.Bf16, TrainConfig.Load(path).Precision);
        File.WriteAllText(path, $$"""{ "precision": "fp16", "data": ["{{TestPaths.MobyDick}}"] }""");
        var e = Assert.Throws<HeadWiseException>(() => TrainConfig.Load(path));
        Assert.Contains("precision", e.Message);
        File.WriteAllText(path, $$"""{ "precision": 1, "data": ["{{TestPaths.MobyDick}}"] }""");
        Assert.Throws<HeadWiseException>(() => TrainConfig.Load(path));
    }

    [Theory]
    [InlineData(0.0, 1, "niah_answer_weight = 0: must be positive")]
    [InlineData(8.0, 0, "niah_facts = 0: must be in [1, 16]")]
    [InlineData(8.0, 17, "niah_facts = 17: must be in [1, 16]")]
    public void A_niah_answer_weight_or_fact_count_out_of_range_is_rejected(double weight, int facts, string message)
    {
        var e = Invalid(TinyTraining.Config() with { NiahAnswerWeight = weight, NiahFacts = facts }, NewOut());
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Context_beyond_the_longest_rope_wavelength_is_rejected()
    {
        // head size 16, theta 100: longest wavelength 2π·100^(14/16) ≈ 353 positions.
        var e = Invalid(TinyTraining.Config() with { RopeTheta = 100, Context = 2048 }, NewOut());
        Assert.Contains("context = 2048 is above what RoPE allows", e.Message);
        Assert.Contains("longest wavelength is 353 positions", e.Message);
        Assert.Equal(353.3, TrainConfigValidator.MaxRopeContext(16, 100), 1);
    }

    [Fact]
    public void Missing_data_file_is_rejected()
    {
        var missing = Path.Combine(TestPaths.NewTempDir(), "no-such.txt");
        var e = Invalid(TinyTraining.Config() with { Data = [missing] }, NewOut());
        Assert.Contains(missing, e.Message);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Curriculum_longer_than_the_context_is_rejected()
    {
        var e = Invalid(TinyTraining.Config() with { Curriculum = [new() { FromStep = 0, SeqLen = 256, Batch = 2 }] }, NewOut());
        Assert.Contains("seq_len 256", e.Message);
    }

    [Fact]
    public void Config_file_with_an_unknown_key_or_bad_value_names_it()
    {
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "c.json");
        File.WriteAllText(path, """{ "layers": 2, "dimm": 64 }""");
        var e = Assert.Throws<HeadWiseException>(() => TrainConfig.Load(path));
        Assert.Contains("dimm", e.Message);

        File.WriteAllText(path, """{ "layers": 0, "data": ["x.txt"] }""");
        e = Assert.Throws<HeadWiseException>(() => TrainConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("layers = 0", e.Message);
    }

    [Fact]
    public void Set_replaces_one_field_and_a_bad_assignment_or_field_is_named()
    {
        var path = Path.Combine(RepoRoot(), "configs", "testbed-gqa.json");
        var plain = TrainConfig.Load(path);
        var varied = TrainConfig.Load(path, ["weight_decay=0.5", "learning_rate=2e-3"]);
        Assert.Equal(0.1, plain.WeightDecay);   // the file's value, so that the override is seen to change it
        Assert.Equal(0.5, varied.WeightDecay);
        Assert.Equal(2e-3, varied.LearningRate);
        Assert.Equal((plain with { WeightDecay = 0.5, LearningRate = 2e-3 }).ToJson(), varied.ToJson());   // nothing else moved
        Assert.Contains("expected field=value", Assert.Throws<HeadWiseException>(() => TrainConfig.Load(path, ["weight_decay"])).Message);
        Assert.Contains("weight_decays", Assert.Throws<HeadWiseException>(() => TrainConfig.Load(path, ["weight_decays=0.5"])).Message);
        Assert.Contains("weight_decay", Assert.Throws<HeadWiseException>(() => TrainConfig.Load(path, ["weight_decay=-1"])).Message);
    }

    [Fact]
    public void Shipped_configs_are_valid_and_find_the_shared_data()
    {
        var root = RepoRoot();
        foreach (var name in new[] { "testbed-2k.json", "testbed-gqa.json", "tiny-ci.json" })
        {
            var c = TrainConfig.Load(Path.Combine(root, "configs", name));
            Assert.All(c.Data, d => Assert.True(File.Exists(d) || Directory.Exists(d), d));
        }
        var testbed = TrainConfig.Load(Path.Combine(root, "configs", "testbed-2k.json"));
        Assert.Equal(2048, testbed.Context);
        Assert.Equal(testbed.Heads, testbed.EffectiveKvHeads);   // multi-head attention, no GQA
        Assert.Null(testbed.InitFrom);                             // one run from random weights
        Assert.Equal(2048, testbed.Curriculum[^1].SeqLen);         // trained at its full context

        var gqa = TrainConfig.Load(Path.Combine(root, "configs", "testbed-gqa.json"));
        Assert.Equal(2048, gqa.Context);
        Assert.True(gqa.EffectiveKvHeads < gqa.Heads && gqa.Heads % gqa.EffectiveKvHeads == 0);   // grouped-query attention
        Assert.Null(gqa.InitFrom);
        Assert.Equal(2048, gqa.Curriculum[^1].SeqLen);
        Assert.Contains(gqa.Curriculum, p => p.MinSeqLen <= 256 && p.SeqLen == 2048);   // trained at every length up to the window
        Assert.True(gqa.EvalEvery > 0);                              // sinks measured during training

        // The second stage starts from the first stage's checkpoint (absent in a fresh clone, so it is set aside here),
        // so everything that shapes the weights, the tokenizer or the held-out split must be the first stage's.
        var longPath = Path.Combine(root, "configs", "testbed-gqa-long.json");
        var longStage = TrainConfig.Load(longPath, ["init_from=null"]);
        var stage2Json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(longPath),
            documentOptions: new() { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!;
        Assert.Equal("runs/testbed-gqa-stage1/checkpoint", (string?)stage2Json["init_from"]);
        Assert.Equal((gqa.Layers, gqa.Dim, gqa.Heads, gqa.EffectiveKvHeads, gqa.FfnDim, gqa.Context, gqa.RopeTheta),
            (longStage.Layers, longStage.Dim, longStage.Heads, longStage.EffectiveKvHeads, longStage.FfnDim, longStage.Context, longStage.RopeTheta));
        Assert.Equal((gqa.VocabSize, gqa.TokenizerTrainChars, gqa.HeldOutFraction), (longStage.VocabSize, longStage.TokenizerTrainChars, longStage.HeldOutFraction));
        Assert.Equal(gqa.Data, longStage.Data);
    }

    internal static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "HeadWise.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException("repository root (HeadWise.slnx) not found");
    }
}
