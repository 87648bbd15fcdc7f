//! Linear models written as ONNX, so that a model trained in Rust (antidote's logistic
//! regression) runs in any ONNX runtime and through [`OnnxPredictor`](crate::OnnxPredictor).

use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto, tensor_proto, tensor_shape_proto,
    type_proto,
};

/// A multinomial linear model: `softmax(flatten(input) * weights + bias)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    /// One record's input dimensions (`[784]`, `[1, 28, 28]`); the batch dimension `N` is free.
    pub input_dims: Vec<usize>,
    /// `features x classes`, row-major, `features` the product of `input_dims`.
    pub weights: Vec<f32>,
    /// One intercept per class.
    pub bias: Vec<f32>,
}

impl LinearModel {
    /// The model as ONNX bytes (IR version 8, opset 13): `Flatten`, `MatMul`, `Add`,
    /// `Softmax`, with the input `input [N, ...input_dims]` and the output
    /// `probabilities [N, classes]`.
    ///
    /// # Panics
    ///
    /// If the weights are not `features x classes` for `classes = bias.len()`.
    #[must_use]
    pub fn to_onnx(&self) -> Vec<u8> {
        let features: usize = self.input_dims.iter().product();
        let classes = self.bias.len();
        assert_eq!(
            self.weights.len(),
            features * classes,
            "the weights are features x classes"
        );
        let float = tensor_proto::DataType::Float as i32;
        let signed = |size: usize| i64::try_from(size).expect("a tensor dimension fits in i64");
        let dim = |value: tensor_shape_proto::dimension::Value| tensor_shape_proto::Dimension {
            denotation: String::new(),
            value: Some(value),
        };
        let value_info = |name: &str, dims: Vec<tensor_shape_proto::Dimension>| ValueInfoProto {
            name: name.to_owned(),
            r#type: Some(TypeProto {
                denotation: String::new(),
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: float,
                    shape: Some(TensorShapeProto { dim: dims }),
                })),
            }),
            doc_string: String::new(),
        };
        let batch = || {
            dim(tensor_shape_proto::dimension::Value::DimParam(
                "N".to_owned(),
            ))
        };
        let mut input_dims = vec![batch()];
        input_dims.extend(
            self.input_dims
                .iter()
                .map(|&size| dim(tensor_shape_proto::dimension::Value::DimValue(signed(size)))),
        );
        let tensor = |name: &str, dims: Vec<i64>, data: &[f32]| TensorProto {
            dims,
            data_type: float,
            float_data: data.to_vec(),
            name: name.to_owned(),
            ..TensorProto::default()
        };
        let node =
            |op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>| NodeProto {
                input: inputs.iter().map(|&input| input.to_owned()).collect(),
                output: vec![output.to_owned()],
                name: output.to_owned(),
                op_type: op.to_owned(),
                attribute,
                ..NodeProto::default()
            };
        let axis = |value: i64| AttributeProto {
            name: "axis".to_owned(),
            r#type: attribute_proto::AttributeType::Int as i32,
            i: value,
            ..AttributeProto::default()
        };
        let graph = GraphProto {
            name: "linear".to_owned(),
            node: vec![
                node("Flatten", &["input"], "flat", vec![axis(1)]),
                node("MatMul", &["flat", "weights"], "scores", Vec::new()),
                node("Add", &["scores", "bias"], "logits", Vec::new()),
                node("Softmax", &["logits"], "probabilities", vec![axis(1)]),
            ],
            initializer: vec![
                tensor(
                    "weights",
                    vec![signed(features), signed(classes)],
                    &self.weights,
                ),
                tensor("bias", vec![signed(classes)], &self.bias),
            ],
            input: vec![value_info("input", input_dims)],
            output: vec![value_info(
                "probabilities",
                vec![
                    batch(),
                    dim(tensor_shape_proto::dimension::Value::DimValue(signed(
                        classes,
                    ))),
                ],
            )],
            ..GraphProto::default()
        };
        let model = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            }],
            producer_name: "antidote".to_owned(),
            producer_version: env!("CARGO_PKG_VERSION").to_owned(),
            graph: Some(graph),
            ..ModelProto::default()
        };
        prost::Message::encode_to_vec(&model)
    }
}
