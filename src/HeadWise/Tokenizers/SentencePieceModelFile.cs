using HeadWise.Formats;
using HeadWise.Formats.Onnx;

namespace HeadWise.Tokenizers;

/// <summary>
/// A SentencePiece tokenizer.model (ModelProto, sentencepiece_model.proto) read the way llama.cpp's converter reads it:
/// the pieces with their scores and types, the model type (BPE only), the unk/bos/eos ids and add_dummy_prefix
/// (byte pieces are known by their type). The normalizer rules themselves are not applied (llama.cpp does not apply them either).
/// </summary>
public static class SentencePieceModelFile
{
    private const int Bpe = 2;
    private static readonly string[] ModelTypes = ["", "UNIGRAM", "BPE", "WORD", "CHAR"];

    public static SentencePieceBpeTokenizer Load(string path) =>
        Parse(BoundedFile.ReadAllBytes(path, "SentencePiece model", FileLimits.Vocabulary), path);

    public static SentencePieceBpeTokenizer Parse(byte[] data, string source)
    {
        var pieces = new List<string>();
        var scores = new List<float>();
        var types = new List<int>();
        long modelType = 1;  // proto default: UNIGRAM
        bool addDummyPrefix = true;
        long unk = 0, bos = 1, eos = 2;  // proto defaults
        var model = new ProtoReader(data, 0, data.Length, source);
        while (model.Next())
        {
            switch (model.Field, model.Wire)
            {
                case (1, 2):
                    var (piece, score, type) = ReadPiece(model.Message(), source, pieces.Count);
                    pieces.Add(piece); scores.Add(score); types.Add(type);
                    break;
                case (2, 2):
                    var trainer = model.Message();
                    while (trainer.Next())
                        switch (trainer.Field, trainer.Wire)
                        {
                            case (3, 0): modelType = (long)trainer.Varint(); break;
                            case (40, 0): unk = (long)trainer.Varint(); break;
                            case (41, 0): bos = (long)trainer.Varint(); break;
                            case (42, 0): eos = (long)trainer.Varint(); break;
                            default: trainer.Skip(); break;
                        }
                    break;
                case (3, 2):
                    var normalizer = model.Message();
                    while (normalizer.Next())
                        if (normalizer.Field == 3 && normalizer.Wire == 0) addDummyPrefix = normalizer.Varint() != 0;
                        else normalizer.Skip();
                    break;
                default: model.Skip(); break;
            }
        }
        if (modelType != Bpe)
            throw new InvalidModelFileException(source, $"trainer_spec.model_type {(modelType is > 0 and < 5 ? ModelTypes[modelType] : modelType.ToString())} is not supported (HeadWise reads BPE SentencePiece models)");
        if (pieces.Count == 0) throw new InvalidModelFileException(source, "the model has no pieces");
        // Ids are int32 on the wire (a negative one, "none", is sign-extended to 64 bits).
        int? Id(long v, string what) => (int)v < 0 && v == (int)v ? null
            : v >= 0 && v < pieces.Count ? (int)v
            : throw new InvalidModelFileException(source, $"trainer_spec.{what} {v} is outside the vocabulary (0..{pieces.Count - 1})");
        return new SentencePieceBpeTokenizer([.. pieces], [.. scores], [.. types], Id(bos, "bos_id"), Id(eos, "eos_id"), Id(unk, "unk_id"),
            addBos: true, addSpacePrefix: addDummyPrefix, source: source);
    }

    private static (string Piece, float Score, int Type) ReadPiece(ProtoReader r, string source, int index)
    {
        string? piece = null;
        float score = 0;
        long type = (int)TokenType.Normal;  // proto default: NORMAL
        while (r.Next())
            switch (r.Field, r.Wire)
            {
                case (1, 2): piece = r.String(); break;
                case (2, 5): score = BitConverter.UInt32BitsToSingle(r.Fixed32()); break;
                case (3, 0): type = (long)r.Varint(); break;
                default: r.Skip(); break;
            }
        if (piece is null) throw new InvalidModelFileException(source, $"piece {index} has no text");
        if (!float.IsFinite(score)) throw new InvalidModelFileException(source, $"piece {index} has score {score}; scores must be finite");
        if (type is < 1 or > (int)TokenType.Byte)
            throw new InvalidModelFileException(source, $"piece {index} has type {type}, not a SentencePiece type (1..6)");
        return (piece, score, (int)type);
    }
}
