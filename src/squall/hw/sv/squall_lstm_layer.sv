module squall_lstm_layer (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 start,       // in idle: run `layer` over T steps from h = c = 0
    input  wire [@LB@-1:0]      layer,
    input  wire                 x_valid,     // x of each step, one value per clock
    input  wire signed [@DW@-1:0] x_data,
    output wire                 x_ready,
    output wire                 out_valid,   // every step's (h, c), unit by unit
    output reg  [@TB@-1:0]      out_step,
    output wire [@HB@-1:0]      out_idx,
    output wire signed [@DW@-1:0] out_h,
    output wire signed [@CW@-1:0] out_c,
    output reg                  done,        // one clock after the last step's last unit
    output wire                 busy,
    output wire                 bad_layer
);
    localparam T = @T@;
    reg running, kick;
    reg [@LB@-1:0] lay;
    wire cell_done, cell_busy;
    assign busy = running;

    squall_lstm_cell u_cell (
        .clk(clk), .rst(rst), .start(kick), .layer(lay), .clear(start && !running),
        .x_valid(x_valid), .x_data(x_data), .x_ready(x_ready),
        .st_we(1'b0), .st_idx(@HB@'d0), .st_h(@DW@'sd0), .st_c(@CW@'sd0),
        .out_valid(out_valid), .out_idx(out_idx), .out_h(out_h), .out_c(out_c),
        .done(cell_done), .busy(cell_busy), .bad_layer(bad_layer));

    always @(posedge clk) begin
        kick <= 1'b0;
        done <= 1'b0;
        if (rst) begin
            running <= 1'b0;
        end else if (!running) begin
            if (start) begin
                running <= 1'b1;
                kick <= 1'b1;
                lay <= layer;
                out_step <= 0;
            end
        end else if (cell_done) begin
            if (out_step == T - 1 || bad_layer) begin
                running <= 1'b0;
                done <= 1'b1;
            end else begin
                out_step <= out_step + 1'b1;
                kick <= 1'b1;
            end
        end
    end
endmodule
