namespace HeadWise.Training;

/// <summary>
/// Checks a <see cref="TrainConfig"/> before anything is trained, so that a bad config fails in a second with a
/// message naming the field, not an hour later inside a tensor op.
/// </summary>
internal static class TrainConfigValidator
{
    public const int SpecialTokens = 2;

    public static void Validate(TrainConfig c, string source)
    {
        void Require(bool ok, string what) { if (!ok) throw new HeadWiseException($"{source}: {what}"); }

        Require(c.Layers > 0 && c.Layers <= 256, $"layers = {c.Layers}: a model needs at least 1 layer (at most 256)");
        Require(c.Heads > 0, $"heads = {c.Heads}: needs at least 1 head");
        Require(c.Dim > 0, $"dim = {c.Dim}: must be positive");
        Require(c.Dim % c.Heads == 0, $"heads = {c.Heads} does not divide dim = {c.Dim} (head size would be {c.Dim / (double)c.Heads:0.###})");
        int headDim = c.Dim / c.Heads;
        Require(headDim % 2 == 0, $"head size dim/heads = {headDim} must be even for RoPE");
        Require(c.KvHeads >= 0 && (c.KvHeads == 0 || c.Heads % c.KvHeads == 0), $"kv_heads = {c.KvHeads} must divide heads = {c.Heads} (0 means multi-head attention)");
        if (c.Attention is { } variant)
        {
            var spec = ModelInit.Spec(c, c.VocabSize);
            foreach (var problem in variant.Problems(spec)) Require(false, $"attention ({variant.Kind}): {problem}");
            Require(spec.KvHeads <= spec.Heads && spec.Heads % spec.KvHeads == 0,
                $"attention ({variant.Kind}): kv_heads = {spec.KvHeads} must divide the {spec.Heads} query heads");
        }
        Require(c.FfnDim > 0, $"ffn_dim = {c.FfnDim}: must be positive");
        Require(c.EmbeddingOffset >= 0 && double.IsFinite(c.EmbeddingOffset), $"embedding_offset = {c.EmbeddingOffset}: must be finite and non-negative");
        Require(c.RopeTheta > 1, $"rope_theta = {c.RopeTheta}: must be greater than 1");
        Require(c.Context >= 16, $"context = {c.Context}: must be at least 16 tokens");
        // Beyond the longest RoPE wavelength, distant positions rotate back onto near ones and become indistinguishable.
        double maxContext = MaxRopeContext(headDim, c.RopeTheta);
        Require(c.Context <= maxContext,
            $"context = {c.Context} is above what RoPE allows with rope_theta = {c.RopeTheta} and head size {headDim}: " +
            $"the longest wavelength is {maxContext:0} positions; raise rope_theta or lower context");
        Require(c.VocabSize >= 256 + SpecialTokens && c.VocabSize <= 65536,
            $"vocab_size = {c.VocabSize}: must hold the 256 bytes and {SpecialTokens} special tokens (at least {256 + SpecialTokens}, at most 65536)");
        Require(c.TokenizerTrainChars > 0, $"tokenizer_train_chars = {c.TokenizerTrainChars}: must be positive");

        Require(c.InitFrom is null || File.Exists(Path.Combine(c.InitFrom, "weights.bin")),
            $"init_from: '{c.InitFrom}' is not a checkpoint folder (no weights.bin in it)");
        Require(c.Data.Length > 0, "data: lists no text files (give files or folders of .txt)");
        foreach (var d in c.Data)
            Require(File.Exists(d) || Directory.Exists(d), $"data: '{d}' does not exist");
        Require(c.HeldOutFraction >= 0 && c.HeldOutFraction < 0.5, $"held_out_fraction = {c.HeldOutFraction}: must be in [0, 0.5)");
        RequireMix(c.Mix, "mix", source);
        Require(c.CopyRepeatShare is >= 0 and <= 1, $"copy_repeat_share = {c.CopyRepeatShare}: must be in [0, 1]");
        Require(c.CopyRandomVocab >= 0, $"copy_random_vocab = {c.CopyRandomVocab}: must be non-negative (0: whole vocabulary)");
        double[] styles = [c.NiahStyles.MagicNumber, c.NiahStyles.Keyed, c.NiahStyles.Fact];
        Require(styles.All(x => x >= 0 && double.IsFinite(x)) && styles.Sum() > 0, "niah_styles: weights must be finite, non-negative and not all 0");
        Require(c.AnswerWeight > 0, $"answer_weight = {c.AnswerWeight}: must be positive");
        Require(c.NiahAnswerWeight is null or > 0, $"niah_answer_weight = {c.NiahAnswerWeight}: must be positive");
        Require(c.NiahFacts is >= 1 and <= 16, $"niah_facts = {c.NiahFacts}: must be in [1, 16]");

        Require(c.Steps > 0, $"steps = {c.Steps}: must be positive");
        Require(c.Curriculum.Length > 0, "curriculum: needs at least one phase");
        Require(c.Curriculum[0].FromStep == 0, $"curriculum: the first phase must start at step 0, not {c.Curriculum[0].FromStep}");
        for (int i = 0; i < c.Curriculum.Length; i++)
        {
            var p = c.Curriculum[i];
            Require(i == 0 || p.FromStep > c.Curriculum[i - 1].FromStep, $"curriculum[{i}]: from_step {p.FromStep} must be after the previous phase's");
            Require(p.SeqLen >= 16 && p.SeqLen <= c.Context, $"curriculum[{i}]: seq_len {p.SeqLen} must be in 16..context ({c.Context})");
            Require(p.MinSeqLen is null || (p.MinSeqLen >= 16 && p.MinSeqLen <= p.SeqLen), $"curriculum[{i}]: min_seq_len {p.MinSeqLen} must be in 16..seq_len ({p.SeqLen})");
            Require(p.Batch > 0, $"curriculum[{i}]: batch {p.Batch} must be positive");
            if (p.Mix is not null) RequireMix(p.Mix, $"curriculum[{i}].mix", source);
            Require(p.CopyRepeatShare is null or (>= 0 and <= 1), $"curriculum[{i}]: copy_repeat_share = {p.CopyRepeatShare}: must be in [0, 1]");
        }
        Require(c.LearningRate > 0 && c.MinLearningRate >= 0 && c.MinLearningRate <= c.LearningRate,
            $"learning_rate = {c.LearningRate}, min_learning_rate = {c.MinLearningRate}: need 0 <= min <= max, max > 0");
        Require(c.WarmupSteps >= 0 && c.WarmupSteps < c.Steps, $"warmup_steps = {c.WarmupSteps}: must be in 0..steps-1");
        Require(c.WeightDecay >= 0, $"weight_decay = {c.WeightDecay}: must be non-negative");
        Require(c.Beta1 is >= 0 and < 1 && c.Beta2 is >= 0 and < 1, $"beta1 = {c.Beta1}, beta2 = {c.Beta2}: must be in [0, 1)");
        Require(c.GradClip > 0, $"grad_clip = {c.GradClip}: must be positive");
        Require(c.CheckpointEvery > 0, $"checkpoint_every = {c.CheckpointEvery}: must be positive");
        Require(c.EvalEvery >= 0, $"eval_every = {c.EvalEvery}: must be non-negative");
        Require(c.MaxMinutes >= 0, $"max_minutes = {c.MaxMinutes}: must be non-negative");
    }

    private static void RequireMix(TaskMix m, string field, string source)
    {
        double[] w = [m.Text, m.Passkey, m.Niah, m.KvRetrieval, m.Copy];
        if (!w.All(x => x >= 0 && double.IsFinite(x))) throw new HeadWiseException($"{source}: {field}: weights must be finite and non-negative");
        if (w.Sum() <= 0) throw new HeadWiseException($"{source}: {field}: at least one weight must be positive");
    }

    /// <summary>The longest RoPE wavelength, 2π θ^((d-2)/d): positions further apart than this alias.</summary>
    public static double MaxRopeContext(int headDim, double theta) => 2 * Math.PI * Math.Pow(theta, (headDim - 2.0) / headDim);

    /// <summary>The .txt files the data entries name (folders: their .txt files, sorted).</summary>
    public static IReadOnlyList<string> TextFiles(TrainConfig c) =>
        c.Data.SelectMany(d => Directory.Exists(d)
            ? Directory.GetFiles(d, "*.txt").OrderBy(f => f, StringComparer.Ordinal)
            : (IEnumerable<string>)[d]).ToList();
}
